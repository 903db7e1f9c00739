"""Request sequences replayed exactly as real MCP clients send them (../shared/CLIENTS.md §2)."""

from datetime import datetime
from urllib.parse import quote, urlencode

import pytest
from django.test import override_settings

from curation.choices import CurationState
from tests.api.registry_helpers import OFFICIAL, body, make_server, make_servers, path_name, set_server_state

pytestmark = pytest.mark.django_db

WEATHER = "io.github.acme/weather"
CORS_ORIGIN = "Access-Control-Allow-Origin"


@pytest.fixture
def gallery():
    """55 approved servers (two versions each), a weather server, a weather-api server, a pending one."""
    make_servers([f"io.github.fleet/server-{index:02d}" for index in range(55)], versions=("1.0.0", "1.1.0"))
    make_server(WEATHER, ("1.0.0", "1.2.0"))
    make_server("io.github.acme/weather-api", ("0.9.0",))
    make_server("io.github.acme/weather-api-legacy", ("0.1.0",))
    make_server("io.github.acme/unapproved", ("1.0.0",), state=CurationState.PENDING)


def ok_json(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response[CORS_ORIGIN] == "*"
    return body(response)


@pytest.mark.parametrize("base", ["", "/registry"])
def test_vscode_gallery_sequence(client, gallery, base, settings):
    """mcpGalleryManifestService + mcpGalleryService: probe, gallery pages (raw cursors), search, lookups."""
    settings.ROOT_URLCONF = "tests.api.prefixed_urls" if base else settings.ROOT_URLCONF
    configured = f"{base}/"  # the setting may end with `/`; VS Code strips one
    base = configured[:-1]
    headers = {"HTTP_ORIGIN": "vscode-file://vscode-app"}

    probe = ok_json(client.get(f"{base}/v0.1/servers?limit=1", **headers))
    assert isinstance(probe["servers"], list) and isinstance(probe["metadata"], dict)

    names, url = [], f"{base}/v0.1/servers?limit=50&version=latest"
    for _ in range(10):
        page = ok_json(client.get(url, **headers))
        names += [entry["server"]["name"] for entry in page["servers"]]
        for entry in page["servers"]:
            official = entry["_meta"][OFFICIAL]
            assert entry["server"]["name"] and entry["server"]["description"] and entry["server"]["version"]
            assert datetime.fromisoformat(official["publishedAt"]) and datetime.fromisoformat(official["updatedAt"])
        if not page["metadata"].get("nextCursor"):
            break
        url = f"{base}/v0.1/servers?limit=50&version=latest&cursor={page['metadata']['nextCursor']}"
    assert len(names) == len(set(names)) == 58 and "io.github.acme/unapproved" not in names

    searched = ok_json(client.get(f"{base}/v0.1/servers?limit=50&version=latest&search={quote('weather')}", **headers))
    assert [e["server"]["name"] for e in searched["servers"]] == [
        WEATHER, "io.github.acme/weather-api", "io.github.acme/weather-api-legacy"]
    first = ok_json(client.get(f"{base}/v0.1/servers?limit=1&version=latest&search={quote('weather api')}"))
    assert first["servers"] == []  # a space is part of the substring
    first = ok_json(client.get(f"{base}/v0.1/servers?limit=1&version=latest&search={quote('weather-api')}"))
    second = ok_json(client.get(f"{base}/v0.1/servers?limit=1&version=latest&cursor={first['metadata']['nextCursor']}"))
    assert [e["server"]["name"] for e in first["servers"] + second["servers"]] == [
        "io.github.acme/weather-api", "io.github.acme/weather-api-legacy"]
    assert "nextCursor" not in second["metadata"]

    latest = ok_json(client.get(f"{base}/v0.1/servers/{path_name(WEATHER)}/versions/latest", **headers))
    assert latest["server"]["name"] == WEATHER and latest["server"]["version"] == "1.2.0"
    assert latest["_meta"][OFFICIAL]["isLatest"] is True
    unapproved = client.get(f"{base}/v0.1/servers/{path_name('io.github.acme/unapproved')}/versions/latest")
    assert unapproved.status_code == 404 and unapproved[CORS_ORIGIN] == "*"


def test_vscode_browser_preflight(client):
    response = client.options("/v0.1/servers?limit=1", HTTP_ORIGIN="https://vscode.dev",
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization")
    assert response.status_code == 204
    assert response[CORS_ORIGIN] == "*" and "GET" in response["Access-Control-Allow-Methods"]


def test_copilot_cli_sequence(client, gallery):
    """Registry-only verification per configured server, then the /mcp search view."""
    verified = ok_json(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/latest", HTTP_ACCEPT="application/json"))
    assert verified["server"]["name"] == WEATHER
    for unknown in ("io.github.acme/unapproved", "io.github.nobody/thing"):
        assert client.get(f"/v0.1/servers/{path_name(unknown)}/versions/latest",
                          HTTP_ACCEPT="application/json").status_code == 404
    page = ok_json(client.get("/v0.1/servers?limit=30"))
    assert page["metadata"]["count"] == 30 and page["metadata"]["nextCursor"]


@override_settings(ROOT_URLCONF="tests.api.prefixed_urls")
def test_toolhive_sequence(client, gallery):
    """`thv config set-registry`, the limit=1 walk, `registry list`, `search` and `registry info` (sorted keys)."""
    base, agent = "/registry", {"HTTP_USER_AGENT": "toolhive/0.9.0"}

    probe = client.get(f"{base}/v0.1/servers?{urlencode(sorted({'limit': 1, 'version': 'latest'}.items()))}", **agent)
    assert probe.status_code == 200 and "application/json" in probe["Content-Type"]
    assert isinstance(body(probe)["servers"], list) and isinstance(body(probe)["metadata"], dict)

    for limit in (1, 100):
        names, params = [], {"limit": limit, "version": "latest"}
        for _ in range(100):
            page = ok_json(client.get(f"{base}/v0.1/servers?{urlencode(sorted(params.items()))}", **agent))
            names += [entry["server"]["name"] for entry in page["servers"]]
            if not page["metadata"].get("nextCursor"):
                break
            params["cursor"] = page["metadata"]["nextCursor"]
        assert len(names) == len(set(names)) == 58

    found = ok_json(client.get(f"{base}/v0.1/servers?{urlencode(sorted({'search': 'weather', 'version': 'latest'}.items()))}"))
    assert [e["server"]["name"] for e in found["servers"]][0] == WEATHER
    info = ok_json(client.get(f"{base}/v0.1/servers/{quote(WEATHER, safe='')}/versions/latest", **agent))
    assert info["server"]["name"] == WEATHER


def test_mcp_registry_sdk_sequence(client, gallery):
    """mcpreg: list, iter_servers (search kept), get_version (`+` encoded), list_versions, incremental_pull."""
    make_server("io.github.acme/build", ("1.0.0+b1",))
    assert ok_json(client.get("/v0.1/servers"))["metadata"]["count"] == 30

    seen_cursors, names, params = set(), [], {"search": "fleet"}
    for _ in range(10):
        page = ok_json(client.get(f"/v0.1/servers?{urlencode(params)}"))
        names += [entry["server"]["name"] for entry in page["servers"]]
        cursor = page["metadata"].get("nextCursor")
        if not cursor:
            break
        assert cursor not in seen_cursors
        seen_cursors.add(cursor)
        params = {"cursor": cursor, "search": "fleet"}
    assert len(seen_cursors) == 3
    assert names == sorted(f"io.github.fleet/server-{index:02d}" for index in range(55) for _ in range(2))

    assert ok_json(client.get(f"/v0.1/servers/{quote('io.github.acme/build', safe='')}/versions/"
                              f"{quote('1.0.0+b1', safe='')}"))["server"]["version"] == "1.0.0+b1"
    assert ok_json(client.get(f"/v0.1/servers/{quote(WEATHER, safe='')}/versions"))["metadata"]["count"] == 2

    def pull(mark):
        without_cursor = {"updated_since": mark.isoformat(), "include_deleted": "true"} if mark else {
            "include_deleted": "true"}
        entries, params = [], without_cursor
        for _ in range(20):
            page = ok_json(client.get(f"/v0.1/servers?{urlencode(params)}"))
            entries += page["servers"]
            if not page["metadata"].get("nextCursor"):
                return entries
            params = {"cursor": page["metadata"]["nextCursor"], **without_cursor}
        raise AssertionError("pagination did not end")

    def high_water(entries, previous):
        marks = [datetime.fromisoformat(e["_meta"][OFFICIAL]["updatedAt"]) for e in entries]
        return max(marks, default=previous)

    everything = pull(None)
    assert len(everything) == 55 * 2 + 2 + 2 + 1
    mark = high_water(everything, None)
    assert "+00:00" in mark.isoformat()
    assert pull(mark) == []

    make_server("io.github.acme/brand-new", ("1.0.0",))
    set_server_state(make_server("io.github.acme/soon-gone", ("1.0.0",)), CurationState.BLOCKED)
    changes = pull(mark)
    assert {(e["server"]["name"], e["_meta"][OFFICIAL]["status"]) for e in changes} == {
        ("io.github.acme/brand-new", "active"), ("io.github.acme/soon-gone", "deleted")}
    assert pull(high_water(changes, mark)) == []
