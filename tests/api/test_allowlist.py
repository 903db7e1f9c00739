import json

import pytest
from django.core.management import CommandError, call_command

from api.allowlist import AllowlistFormatError, allowlist_build
from api.catalog_selectors import allowlist_listings
from curation.choices import CurationState
from tests.api.catalog_helpers import make_server

pytestmark = pytest.mark.django_db

REMOTE_AND_PACKAGES = {
    "remotes": [{"type": "streamable-http", "url": "https://{tenant}.mcp.example.com/mcp",
                 "variables": {"tenant": {"isRequired": True}}}],
    "packages": [
        {"registryType": "npm", "identifier": "@acme/weather", "version": "1.0.0", "transport": {"type": "stdio"}},
        {"registryType": "pypi", "identifier": "acme-needs-input", "version": "1.0.0", "transport": {"type": "stdio"},
         "packageArguments": [{"type": "positional", "valueHint": "dir", "isRequired": True}]},
        {"registryType": "mcpb", "identifier": "https://example.com/w.mcpb", "fileSha256": "0" * 64,
         "transport": {"type": "stdio"}},
    ],
}


@pytest.fixture
def approved_set():
    make_server("io.github.acme/weather", versions=("1.0.0", "1.1.0"), extra=REMOTE_AND_PACKAGES)
    make_server("io.github.acme/tides")
    make_server("io.github.acme/pending", state=CurationState.PENDING)
    make_server("io.github.acme/blocked", state=CurationState.BLOCKED)


def build(output_format):
    return allowlist_build(listings=allowlist_listings(), output_format=output_format)


def test_vscode_policy_matchers(approved_set):
    matchers = build("vscode-policy")["chat.mcp.allowedServers"]
    assert matchers == [
        {"serverName": "io.github.acme/tides"},
        {"serverName": "io.github.acme/weather"},
        {"serverCommand": ["npx", "-y", "@test/tides@1.0.0"]},
        {"serverCommand": ["npx", "-y", "@acme/weather@1.0.0"]},
    ]
    # Exactly one matching field per entry, as VS Code requires.
    assert all(len(m) == 1 for m in matchers)


def test_only_path_and_query_variables_become_wildcards():
    urls = ["https://mcp.example.com/{tenant}/mcp?region={region}", "https://*/*", "https://{host}/mcp",
            "https://mcp.example.com:{port}/mcp", "https://{user}@mcp.example.com/mcp", "https://mcp.example.com/*"]
    make_server("io.github.acme/weather", extra={"packages": [], "remotes": [
        {"type": "streamable-http", "url": url, "variables": {"tenant": {}, "region": {}, "host": {}, "port": {},
                                                              "user": {}}} for url in urls]})
    assert build("vscode-policy")["chat.mcp.allowedServers"] == [
        {"serverName": "io.github.acme/weather"},
        {"serverUrl": "https://mcp.example.com/*/mcp?region=*"},
    ]
    assert [r["url"] for r in build("json")["servers"][0]["remotes"]] == urls


def test_copilot_managed_settings_has_the_same_matchers(approved_set):
    assert build("copilot-managed-settings")["allowedMcpServers"] == build("vscode-policy")["chat.mcp.allowedServers"]


def test_plain_json_lists_names_versions_remotes_and_commands(approved_set):
    document = build("json")
    assert document["count"] == 2
    weather = next(s for s in document["servers"] if s["name"] == "io.github.acme/weather")
    assert weather["versions"] == ["1.0.0", "1.1.0"]
    assert weather["latestVersion"] == "1.1.0"
    assert weather["remotes"] == [{"type": "streamable-http", "url": "https://{tenant}.mcp.example.com/mcp"}]
    commands = [p["command"] for p in weather["packages"]]
    assert commands == [["npx", "-y", "@acme/weather@1.0.0"], ["uvx", "acme-needs-input==1.0.0", "${input:dir}"], None]


def test_empty_approved_set():
    assert build("vscode-policy") == {"chat.mcp.allowedServers": []}
    assert build("json")["servers"] == []


def test_unknown_format():
    with pytest.raises(AllowlistFormatError):
        allowlist_build(listings=[], output_format="xml")


def test_command_writes_stdout_or_a_file(approved_set, tmp_path, capsys):
    call_command("export_allowlist", "--format", "vscode-policy")
    printed = json.loads(capsys.readouterr().out)
    assert {"serverName": "io.github.acme/weather"} in printed["chat.mcp.allowedServers"]

    target = tmp_path / "allowlist.json"
    call_command("export_allowlist", "--format", "json", "--output", str(target))
    assert json.loads(target.read_text())["count"] == 2
    assert "(2 servers)" in capsys.readouterr().err


def test_command_rejects_a_bad_format_and_an_unwritable_path(tmp_path):
    with pytest.raises(CommandError):
        call_command("export_allowlist", "--format", "yaml")
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("export_allowlist", "--output", str(tmp_path / "missing" / "x.json"))
