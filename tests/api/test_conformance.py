"""Every body of the three read endpoints validates against the official schemas (../shared/mcp-registry)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from curation.choices import CurationState
from curation.services import listing_refresh
from mirror.models import Server, ServerVersion
from mirror.services import server_json_dump
from tests.api.official_schemas import OfficialSchemas
from tests.api.registry_helpers import OFFICIAL, body, make_server, path_name, set_server_state, walk
from tests.factories import ServerVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def official(shared_file):
    return OfficialSchemas(shared_file)


@pytest.fixture
def registry_data(shared_file):
    """The real seed documents (approved), factory servers, a withdrawn server and a deleted version."""
    since = timezone.now() - timedelta(seconds=1)
    for document in json.loads(shared_file("seed.json").read_text()):
        server, _ = Server.objects.get_or_create(name=document["name"])
        ServerVersionFactory(server=server, version=document["version"], document=document,
                             server_json=server_json_dump(document))
    for server in Server.objects.all():
        make_server(server.name, versions=())  # curation rows + projection for the seeded servers
    make_server("io.github.acme/weather", ("1.0.0", "1.1.0", "2.0.0-rc.1"), meta={"owner": "team-a"})
    make_server("io.github.acme/pending", state=CurationState.PENDING)
    withdrawn = make_server("io.github.acme/withdrawn", ("0.1.0", "0.2.0"))
    set_server_state(withdrawn, CurationState.BLOCKED)
    return since


def test_seed_documents_are_served_byte_for_byte(client, registry_data, shared_file):
    for document in json.loads(shared_file("seed.json").read_text()):
        response = client.get(f"/v0.1/servers/{path_name(document['name'])}/versions/{document['version']}")
        assert response.content.startswith(f'{{"server":{server_json_dump(document)},'.encode())


@pytest.mark.parametrize("query", [
    "", "?limit=1", "?limit=2", "?limit=100", "?version=latest", "?limit=1&version=latest", "?search=acme",
    "?search=TIME&limit=1", "?version=1.1.0", "?include_deleted=true&limit=3", "?include_deleted=false",
])
def test_every_list_page_validates(client, official, registry_data, query):
    pages = walk(client, query)
    for page in pages:
        official.assert_list(page)
    assert sum(page["metadata"]["count"] for page in pages) > 0


def test_incremental_pages_with_tombstones_validate(client, official, registry_data):
    since = registry_data.isoformat().replace("+", "%2B")
    pages = walk(client, f"?updated_since={since}&limit=2")
    statuses = {entry["_meta"][OFFICIAL]["status"] for page in pages for entry in page["servers"]}
    assert statuses == {"active", "deleted"}
    for page in pages:
        official.assert_list(page)


def test_versions_and_lookups_validate(client, official, registry_data):
    for name in ServerVersion.objects.values_list("server__name", flat=True).distinct():
        for suffix in ("/versions", "/versions?include_deleted=true"):
            response = client.get(f"/v0.1/servers/{path_name(name)}{suffix}")
            if response.status_code == 200:
                official.assert_list(body(response))
        for version in [*ServerVersion.objects.filter(server__name=name).values_list("version", flat=True), "latest"]:
            for query in ("", "?include_deleted=true"):
                response = client.get(f"/v0.1/servers/{path_name(name)}/versions/{path_name(version)}{query}")
                if response.status_code == 200:
                    official.assert_entry(body(response))
                    assert body(response)["server"]["name"] == name
                else:
                    assert response.status_code == 404


def test_the_validators_catch_a_broken_entry(official):
    """The conformance checks above can fail: a missing description or an extra official key is caught."""
    entry = {"server": {"name": "io.github.a/b", "version": "1"},
             "_meta": {OFFICIAL: {"status": "active", "surprise": True}}}
    assert official.server_errors(entry["server"])
    assert official.errors("ServerResponse", entry)
    assert official.errors("ServerList", {"servers": {}})


def test_tombstones_never_enter_plain_reads(client, registry_data):
    listing_refresh(server_ids=Server.objects.values_list("id", flat=True))
    pages = walk(client, "?limit=3")
    assert all(entry["_meta"][OFFICIAL]["status"] == "active" for page in pages for entry in page["servers"])
