"""Property: whatever the curation states, version policies and upstream statuses, the API serves
exactly the served rule, and nothing else leaks through any endpoint or filter."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.choices import CurationState, VersionPolicy
from curation.models import ServerCuration, VersionCuration
from curation.selectors import served_versions
from curation.services import listing_refresh
from mirror.choices import UpstreamStatus
from mirror.models import ServerVersion
from mirror.versioning import pick_latest
from tests.api.registry_helpers import OFFICIAL, PUBLISHED, body, walk
from tests.factories import ServerFactory, ServerVersionFactory

pytestmark = pytest.mark.django_db

VERSION_POOL = ["0.9", "1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0", "v2.1.0"]
VERSION_STATES = st.sampled_from([None, *CurationState.values])

version_strategy = st.fixed_dictionaries({
    "status": st.sampled_from(UpstreamStatus.values),
    "decision": VERSION_STATES,
})
server_strategy = st.fixed_dictionaries({
    "state": st.sampled_from(CurationState.values),
    "policy": st.sampled_from(VersionPolicy.values),
    "versions": st.dictionaries(st.sampled_from(VERSION_POOL), version_strategy, min_size=1, max_size=4),
})
world_strategy = st.fixed_dictionaries({
    # Two snapshots of the curation world: the second one withdraws and adds versions.
    "before": st.lists(server_strategy, min_size=1, max_size=3),
    "after_states": st.lists(st.sampled_from(CurationState.values), min_size=3, max_size=3),
    "after_blocks": st.lists(st.sampled_from(VERSION_POOL), max_size=2),
})


def build(world) -> list:
    servers = []
    for index, spec in enumerate(world["before"]):
        server = ServerFactory(name=f"io.github.prop/Server-{index}")
        ServerCuration.objects.create(server=server, state=spec["state"], version_policy=spec["policy"])
        for position, (version, version_spec) in enumerate(spec["versions"].items()):
            row = ServerVersionFactory(server=server, version=version, status=version_spec["status"],
                                       published_at=PUBLISHED + timedelta(hours=position))
            if version_spec["decision"]:
                VersionCuration.objects.create(version=row, state=version_spec["decision"])
        servers.append(server)
    listing_refresh(server_ids=[server.id for server in servers])
    return servers


def change(world, servers):
    for server, state in zip(servers, world["after_states"]):
        ServerCuration.objects.filter(server=server).update(state=state)
    for version in ServerVersion.objects.filter(server__in=servers, version__in=world["after_blocks"]):
        VersionCuration.objects.update_or_create(version=version, defaults={"state": CurationState.BLOCKED})
    listing_refresh(server_ids=[server.id for server in servers])


def pairs(entries, status=None):
    return {(e["server"]["name"], e["server"]["version"]) for e in entries
            if status is None or e["_meta"][OFFICIAL]["status"] == status}


def entries_of(pages):
    return [entry for page in pages for entry in page["servers"]]


def check_api_matches_the_served_rule(client, once_served: set):
    served = set(served_versions().values_list("server__name", "version"))
    by_name = {}
    for version in served_versions().select_related("server"):
        by_name.setdefault(version.server.name, []).append(version)
    latest = {(name, pick_latest(versions).version) for name, versions in by_name.items()}
    all_versions = set(ServerVersion.objects.values_list("server__name", "version"))

    listed = entries_of(walk(client, "?limit=2"))
    assert pairs(listed) == served
    assert {e["_meta"][OFFICIAL]["status"] for e in listed} <= {"active"}
    assert pairs(entries_of(walk(client, "?limit=2&version=latest"))) == latest
    assert {(e["server"]["name"], e["server"]["version"]) for e in listed if e["_meta"][OFFICIAL]["isLatest"]} == latest
    assert pairs(entries_of(walk(client, "?search=server-1"))) == {p for p in served if p[0].endswith("-1")}

    with_tombstones = entries_of(walk(client, "?limit=3&include_deleted=true"))
    incremental = entries_of(walk(client, "?limit=3&updated_since=2000-01-01T00:00:00Z"))
    for entries in (with_tombstones, incremental):
        assert pairs(entries, "active") == served
        assert pairs(entries, "deleted") == once_served - served
        assert pairs(entries) == pairs(entries, "active") | pairs(entries, "deleted")

    for name, version in all_versions:
        base = f"/v0.1/servers/{quote(name, safe='')}"
        response = client.get(f"{base}/versions/{quote(version, safe='')}")
        assert response.status_code == (200 if (name, version) in served else 404)
        tombstone = client.get(f"{base}/versions/{quote(version, safe='')}?include_deleted=true")
        assert tombstone.status_code == (200 if (name, version) in served | once_served else 404)
        versions = client.get(f"{base}/versions")
        expected_versions = {p for p in served if p[0] == name}
        assert (pairs(body(versions)["servers"]) if versions.status_code == 200 else set()) == expected_versions
        latest_response = client.get(f"{base}/versions/latest")
        expected_latest = {p for p in latest if p[0] == name}
        assert (pairs([body(latest_response)]) if latest_response.status_code == 200 else set()) == expected_latest


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(world=world_strategy)
def test_the_api_serves_exactly_the_served_rule(client, world):
    with transaction.atomic():
        servers = build(world)
        once_served = set(served_versions().values_list("server__name", "version"))
        check_api_matches_the_served_rule(client, once_served=set())
        change(world, servers)
        check_api_matches_the_served_rule(client, once_served=once_served)
        transaction.set_rollback(True)
