"""An integrator's client: openapi-python-client generates a typed package from our exported schema, which then
reads a live server. A generator warning is a part of the schema an integrator gets no types for, and a typed
body whose `to_dict()` differs from the API's JSON is data the schema loses: both are schema defects."""

import importlib
import inspect
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import typing
from datetime import datetime
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command

from api.catalog_urls import EXTENSION_NAMESPACE
from curation.choices import CurationState
from tests.api.registry_helpers import PUBLISHED, make_server, path_name, set_server_state

GENERATOR_BIN = Path(sys.executable).parent
GENERATOR = shutil.which("openapi-python-client", path=str(GENERATOR_BIN))
PACKAGE = "generated_registry_client"

# The tests with served data use live_server, which brings a transactional database.
pytestmark = pytest.mark.integration

WEATHER = "io.github.acme/weather"
MAPS = "io.github.acme/maps"
PUBLISHER_META = {"io.modelcontextprotocol.registry/publisher-provided": {"tool": "acme-cli", "build": {"id": 42}}}
REMOTE = {"type": "streamable-http", "url": "https://mcp.acme.example/weather/mcp"}
PACKAGE_ENTRY = {
    "registryType": "npm", "identifier": "@acme/weather", "version": "2.0.0", "transport": {"type": "stdio"},
    "environmentVariables": [{"name": "WEATHER_API_KEY", "isSecret": True, "isRequired": True}],
    "packageArguments": [{"type": "named", "name": "--units", "value": "metric"}],
}
SERVED = [
    (MAPS, "1.0.0"),
    (WEATHER, "1.0.0"), (WEATHER, "1.1.0"), (WEATHER, "2.0.0+b1"),
    ("io.github.other/search", "0.1.0"), ("io.github.other/search", "0.2.0"),
]
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated package, imported: the client, the operations an integrator calls, and the models."""
    assert GENERATOR, "openapi-python-client is missing from the venv: `make install` installs the dev extra"
    workdir = tmp_path_factory.mktemp("generated-client")
    schema, config = workdir / "openapi.json", workdir / "config.yaml"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    config.write_text(f"package_name_override: {PACKAGE}\n")
    result = subprocess.run(
        [GENERATOR, "generate", "--path", str(schema), "--output-path", str(workdir / PACKAGE), "--meta", "none",
         "--config", str(config), "--fail-on-warning"],
        capture_output=True, text=True, timeout=120,
        # Its post-generation hooks run ruff, installed beside it: found without an activated venv.
        env={**os.environ, "PATH": f"{GENERATOR_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "200"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and output.strip() == f"Generating {workdir / PACKAGE}", output
    sys.path.insert(0, str(workdir))
    try:
        operations = importlib.import_module(f"{PACKAGE}.api")
        yield SimpleNamespace(
            client=importlib.import_module(f"{PACKAGE}.client"),
            types=importlib.import_module(f"{PACKAGE}.types"),
            models=importlib.import_module(f"{PACKAGE}.models"),
            list_servers=importlib.import_module(f"{PACKAGE}.api.servers.list_servers"),
            list_server_versions=importlib.import_module(f"{PACKAGE}.api.servers.list_server_versions"),
            get_server_version=importlib.import_module(f"{PACKAGE}.api.servers.get_server_version"),
            get_client_config=importlib.import_module(f"{PACKAGE}.api.extensions.get_client_config"),
            operations=[importlib.import_module(module.name) for module in
                        pkgutil.walk_packages(operations.__path__, f"{PACKAGE}.api.") if not module.ispkg],
        )
    finally:
        sys.path.remove(str(workdir))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def served(transactional_db) -> dict:
    """Six served versions of three servers; the weather server's carry packages, remotes, icons and `_meta`."""
    weather = make_server(WEATHER, ("1.0.0", "1.1.0", "2.0.0+b1"), meta={"owningTeam": "Weather Platform"}, extra={
        "title": "Weather", "packages": [PACKAGE_ENTRY], "remotes": [REMOTE], "_meta": PUBLISHER_META,
        "icons": [{"src": "https://acme.example/weather.png", "mimeType": "image/png", "sizes": ["48x48"]}],
    })
    maps = make_server(MAPS)
    search = make_server("io.github.other/search", ("0.1.0", "0.2.0"))
    return {server.name: server for server in (weather, maps, search)}


@pytest.fixture
def registry(generated, live_server, served):
    """The generated client, pointed at the live server."""
    with generated.client.Client(base_url=live_server.url, raise_on_unexpected_status=True) as client:
        yield client


def instants(value):
    """JSON with each RFC 3339 string parsed: the models render upstream's `Z` as `+00:00`, the same instant."""
    if isinstance(value, dict):
        return {key: instants(item) for key, item in value.items()}
    if isinstance(value, list):
        return [instants(item) for item in value]
    if isinstance(value, str) and RFC3339.fullmatch(value):
        return datetime.fromisoformat(value)
    return value


def assert_lossless(typed, live_server, path: str, expected_status: int = 200, **params):
    """The typed body's `to_dict()` is the JSON the API answers this request with, fetched without the client."""
    response = httpx.get(f"{live_server.url}{path}", params=params)
    assert response.status_code == expected_status, response.text
    assert instants(typed.to_dict()) == instants(response.json())


def official(entry):
    """The `_meta` block upstream's registry defines, typed."""
    return entry.field_meta.io_modelcontextprotocol_registryofficial


def test_every_operation_takes_an_anonymous_client(generated):
    """The API needs no credentials, so no typed call may ask for an `AuthenticatedClient`."""
    assert {"list_servers", "list_server_versions", "get_server_version", "get_client_config"} <= {
        operation.__name__.rpartition(".")[2] for operation in generated.operations}
    for operation in generated.operations:
        for function in (operation.sync, operation.sync_detailed, operation.asyncio, operation.asyncio_detailed):
            client_type = inspect.signature(function).parameters["client"].annotation
            assert generated.client.Client in typing.get_args(client_type), (operation.__name__, client_type)


def test_no_type_stands_in_for_an_unnamed_or_a_repeated_schema(generated):
    """A `…Type0` class is an inline nullable object, and two enums of the same values are one enum written twice
    (a value read from one call then has the wrong type for another): each should be one named component."""
    models = [getattr(generated.models, name) for name in generated.models.__all__]
    assert not [model.__name__ for model in models if re.search(r"Type\d+$", model.__name__)]
    enums = [model for model in models if issubclass(model, Enum)]
    assert len({frozenset(member.value for member in enum) for enum in enums}) == len(enums), enums


def test_the_typed_list_follows_next_cursor_to_the_end_and_loses_nothing(generated, registry, live_server):
    pages, cursor = [], generated.types.UNSET
    for _ in SERVED:
        page = generated.list_servers.sync(client=registry, limit=2, cursor=cursor)
        assert_lossless(page, live_server, "/v0.1/servers", limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append(page)
        if not page.metadata.next_cursor:
            break
        cursor = page.metadata.next_cursor
    else:
        pytest.fail("nextCursor never ran out")
    assert [page.metadata.count for page in pages] == [2, 2, 2]
    assert [(entry.server.name, entry.server.version) for page in pages for entry in page.servers] == SERVED


def test_typed_search_versions_and_lookups_lose_nothing(generated, registry, live_server):
    found = generated.list_servers.sync(client=registry, search="WEATH", version="latest")
    assert_lossless(found, live_server, "/v0.1/servers", search="WEATH", version="latest")
    assert [(entry.server.name, entry.server.version) for entry in found.servers] == [(WEATHER, "2.0.0+b1")]
    assert found.metadata.next_cursor is generated.types.UNSET

    versions = generated.list_server_versions.sync(WEATHER, client=registry)
    assert_lossless(versions, live_server, f"/v0.1/servers/{path_name(WEATHER)}/versions")
    assert [entry.server.version for entry in versions.servers] == ["2.0.0+b1", "1.1.0", "1.0.0"]

    for version, served_version in (("1.1.0", "1.1.0"), ("2.0.0+b1", "2.0.0+b1"), ("latest", "2.0.0+b1")):
        entry = generated.get_server_version.sync(WEATHER, version, client=registry)
        assert_lossless(entry, live_server, f"/v0.1/servers/{path_name(WEATHER)}/versions/{path_name(version)}")
        server = entry.server
        assert (server.name, server.version) == (WEATHER, served_version)
        assert (official(entry).status, official(entry).is_latest) == ("active", served_version == "2.0.0+b1")
        assert official(entry).published_at.tzinfo is not None
        assert server.packages[0].transport.to_dict() == {"type": "stdio"}
        assert server.packages[0].environment_variables[0].to_dict() == PACKAGE_ENTRY["environmentVariables"][0]
        assert (server.remotes[0].type_, server.remotes[0].url) == (REMOTE["type"], REMOTE["url"])
        assert server.icons[0].sizes == ["48x48"]
        assert server.field_meta.to_dict() == PUBLISHER_META
        org = entry.field_meta.to_dict()[settings.REGISTRY_META_NAMESPACE]
        assert (org["curationState"], org["approvedBy"], org["owningTeam"]) == ("approved", "alice", "Weather Platform")


def test_an_incremental_sync_reads_typed_tombstones(generated, registry, live_server, served):
    """`updated_since` as the generated client sends a datetime (`+00:00`), and a `deleted` entry."""
    set_server_state(served[MAPS], CurationState.BLOCKED)
    page = generated.list_servers.sync(client=registry, updated_since=PUBLISHED)
    assert_lossless(page, live_server, "/v0.1/servers", updated_since=PUBLISHED.isoformat())
    statuses = {(entry.server.name, entry.server.version): official(entry).status for entry in page.servers}
    assert statuses == {pair: "deleted" if pair[0] == MAPS else "active" for pair in SERVED}


def test_the_typed_client_config_extension(generated, registry, live_server):
    vscode = generated.models.McpClient.VSCODE
    config = generated.get_client_config.sync(WEATHER, client=registry, client_query=vscode)
    assert_lossless(config, live_server, f"/v0.1/x/{EXTENSION_NAMESPACE}/client-config/{path_name(WEATHER)}",
                    client="vscode")
    assert (config.client, config.server_name, config.version) == (vscode, WEATHER, "2.0.0+b1")
    assert config.download is None and WEATHER in config.config.to_dict()["servers"]


def test_errors_are_typed_problems(generated, registry, live_server):
    unknown = generated.get_server_version.sync_detailed("io.github.acme/unknown", "latest", client=registry)
    assert unknown.status_code == 404 and isinstance(unknown.parsed, generated.models.Problem)
    assert_lossless(unknown.parsed, live_server, f"/v0.1/servers/{path_name('io.github.acme/unknown')}/versions/latest",
                    404)
    assert unknown.parsed.detail == "Server not found"

    bad_cursor = generated.list_servers.sync_detailed(client=registry, cursor="not-a-cursor")
    assert bad_cursor.status_code == 400
    assert_lossless(bad_cursor.parsed, live_server, "/v0.1/servers", 400, cursor="not-a-cursor")
    assert [(error.location, error.value) for error in bad_cursor.parsed.errors] == [("query.cursor", "not-a-cursor")]

    # `limit=abc` is a 422, as upstream's (a 400 is for cursors and times); the typed call takes only an int.
    not_a_number = registry.get_httpx_client().get("/v0.1/servers", params={"limit": "abc"})
    assert not_a_number.status_code == 422
    problem = generated.models.Problem.from_dict(not_a_number.json())
    assert problem.to_dict() == not_a_number.json()
    assert [(error.location, error.value) for error in problem.errors] == [("query.limit", "abc")]
