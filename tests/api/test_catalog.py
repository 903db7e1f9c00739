import json
import re

import pytest
from django.urls import reverse

from curation.choices import CurationState
from tests.api.catalog_helpers import make_server, set_state

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'


def detail_url(name):
    return reverse("catalog-detail", args=[name])


def test_list_shows_only_served_latest_versions(client):
    make_server("io.github.acme/weather", versions=("1.0.0", "1.2.0"),
                meta={"owningTeam": "Platform", "dataClassification": "internal"},
                extra={"title": "Weather Tools", "icons": [{"src": "https://acme.example/icon.png"}]})
    make_server("io.github.acme/pending", state=CurationState.PENDING)
    make_server("io.github.acme/blocked", state=CurationState.BLOCKED)

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "io.github.acme/weather" in html and "Weather Tools" in html
    assert "v1.2.0" in html and "v1.0.0" not in html
    assert "pending" not in html and "blocked" not in html
    assert "Platform" in html and "internal" in html
    assert '<img class="icon" src="https://acme.example/icon.png"' in html
    assert 'referrerpolicy="no-referrer"' in html
    assert ">npm<" in html and ">Local<" in html


def test_list_search_matches_name_title_and_description(client):
    make_server("io.github.acme/alpha", extra={"title": "Forecasts"})
    make_server("io.github.acme/beta", extra={"description": "Reads tide tables"})
    make_server("io.github.acme/gamma")

    def names(query):
        html = client.get("/", {"q": query}).content.decode()
        return set(re.findall(r'class="card-name">([^<]+)<', html))

    assert names("ALPHA") == {"io.github.acme/alpha"}
    assert names("forecast") == {"io.github.acme/alpha"}
    assert names("tide") == {"io.github.acme/beta"}
    assert names("io.github.acme") == {"io.github.acme/alpha", "io.github.acme/beta", "io.github.acme/gamma"}
    assert names("nothing-like-this") == set()
    assert "No approved server matches" in client.get("/", {"q": "zzz"}).content.decode()


def test_list_paginates_with_bounded_queries(client, django_assert_max_num_queries):
    for index in range(30):
        make_server(f"io.github.acme/server-{index:02d}")
    with django_assert_max_num_queries(2):
        first = client.get("/")
    with django_assert_max_num_queries(2):
        second = client.get("/", {"page": 2})
    assert first.content.decode().count('class="card"') == 24
    assert second.content.decode().count('class="card"') == 6
    assert "Page 2 of 2" in second.content.decode()
    assert client.get("/", {"page": "garbage"}).status_code == 200
    assert client.get("/", {"page": "999"}).status_code == 200


def test_upstream_text_is_escaped_everywhere(client):
    make_server(
        "io.github.acme/evil",
        meta={"owningTeam": XSS},
        extra={
            "title": XSS, "description": XSS,
            "icons": [{"src": 'https://x.example/i.png" onerror="alert(1)'}],
            "websiteUrl": "javascript:alert(1)",
            "repository": {"url": "javascript:alert(1)", "source": "github"},
            "packages": [{
                "registryType": "npm", "identifier": "@acme/evil", "version": "1.0.0", "transport": {"type": "stdio"},
                "environmentVariables": [{"name": "EVIL_KEY", "isSecret": True, "isRequired": True,
                                          "description": XSS}],
            }],
        },
    )
    for response in (client.get("/"), client.get(detail_url("io.github.acme/evil"))):
        html = response.content.decode()
        assert XSS not in html
        assert "&lt;script&gt;" in html
        assert "javascript:" not in html
        assert 'onerror="alert(1)' not in html
    detail = client.get(detail_url("io.github.acme/evil")).content.decode()
    # The generated config is shown escaped inside <pre>.
    assert "&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;" in detail


def test_non_https_icons_are_not_rendered(client):
    make_server("io.github.acme/plain", extra={"icons": [{"src": "http://acme.example/icon.png"}]})
    html = client.get("/").content.decode()
    assert "acme.example/icon.png" not in html
    assert "icon-fallback" in html


def test_detail_shows_versions_packages_secrets_links_and_configs(client, settings):
    settings.ALLOWED_HOSTS = ["registry.corp.example", "testserver"]
    make_server(
        "io.github.acme/weather", versions=("1.0.0", "1.1.0"),
        meta={"owningTeam": "Platform", "dataClassification": "confidential"},
        extra={
            "title": "Weather", "websiteUrl": "https://weather.example.com",
            "packages": [{
                "registryType": "npm", "identifier": "@acme/weather", "version": "1.1.0",
                "transport": {"type": "stdio"},
                "environmentVariables": [
                    {"name": "WEATHER_KEY", "isSecret": True, "isRequired": True, "description": "API key"},
                ],
            }],
            "remotes": [{"type": "streamable-http", "url": "https://mcp.weather.example.com/mcp",
                         "headers": [{"name": "Authorization", "isSecret": True, "description": "Token"}]}],
        },
    )
    response = client.get(detail_url("io.github.acme/weather"), HTTP_HOST="registry.corp.example")
    assert response.status_code == 200
    html = response.content.decode()
    assert "1.0.0" in html and "1.1.0" in html
    assert "WEATHER_KEY" in html and "badge-secret" in html
    assert 'href="https://weather.example.com"' in html
    assert 'href="https://github.com/weather/repo"' in html
    assert "Owning team" in html and "confidential" in html
    # How to connect: the base URL, never with /v0.1.
    assert '<pre id="base-url" tabindex="0"><code>http://registry.corp.example</code></pre>' in html
    assert "chat.mcp.gallery.serviceUrl" in html and "MCP Registry URL" in html
    configs = response.context["configs"]
    assert [c["client"] for c in configs] == ["vscode", "claude-desktop", "cursor"]
    vscode = json.loads(configs[0]["json"])
    assert vscode["servers"]["io.github.acme/weather"]["env"] == {
        "WEATHER_KEY": "${input:io.github.acme_weather.WEATHER_KEY}"}
    # Every package and remote can be chosen.
    assert "source=remote-0" in html
    remote = client.get(detail_url("io.github.acme/weather"), {"source": "remote-0"})
    assert json.loads(remote.context["configs"][0]["json"])["servers"]["io.github.acme/weather"]["type"] == "http"


def test_detail_of_an_older_served_version(client):
    make_server("io.github.acme/weather", versions=("1.0.0", "1.1.0"))
    response = client.get(detail_url("io.github.acme/weather"), {"version": "1.0.0"})
    assert response.status_code == 200
    assert response.context["listing"].version_string == "1.0.0"
    assert "@test/weather@1.0.0" in response.context["configs"][0]["json"]


def test_base_url_keeps_the_script_prefix_and_honours_the_override(client, settings):
    make_server("io.github.acme/weather")
    html = client.get(detail_url("io.github.acme/weather"), SCRIPT_NAME="/registry").content.decode()
    assert "http://testserver/registry</code>" in html
    settings.REGISTRY_PUBLIC_URL = "https://mcp.corp.example/"
    html = client.get(detail_url("io.github.acme/weather")).content.decode()
    assert "<code>https://mcp.corp.example</code>" in html


@pytest.mark.parametrize("state", [CurationState.PENDING, CurationState.BLOCKED])
def test_unapproved_servers_are_not_found(client, state):
    make_server("io.github.acme/hidden", state=state)
    response = client.get(detail_url("io.github.acme/hidden"))
    assert response.status_code == 404
    assert "Server not found" in response.content.decode()


def test_unknown_server_and_unserved_version_are_not_found(client):
    make_server("io.github.acme/weather")
    assert client.get(detail_url("io.github.acme/nope")).status_code == 404
    assert client.get(detail_url("io.github.acme/weather"), {"version": "9.9.9"}).status_code == 404


def test_blocking_removes_a_server_from_the_catalog(client):
    server = make_server("io.github.acme/weather")
    assert client.get(detail_url(server.name)).status_code == 200
    set_state(server, CurationState.BLOCKED)
    assert server.name not in client.get("/").content.decode()
    assert client.get(detail_url(server.name)).status_code == 404


def test_pages_work_without_javascript_copy_buttons_are_enhancements(client):
    make_server("io.github.acme/weather")
    html = client.get(detail_url("io.github.acme/weather")).content.decode()
    assert '<button type="button" class="copy" data-copy="config-vscode" aria-label="Copy VS Code configuration" ' \
           'hidden>Copy</button>' in html
    assert "<script>" not in html.split("</main>")[0]


def test_invisible_and_direction_changing_characters_are_shown_as_escapes(client):
    arguments = ["--read-only \u202e; ylno-daer-- \u2066", "zero\u200bwidth", "line\u2028break", "next\x85line",
                 "no\u00a0break", "tag\U000e0041"]
    make_server("io.github.acme/bidi", extra={"packages": [{
        "registryType": "npm", "identifier": "bidi-pkg", "version": "1.0.0", "transport": {"type": "stdio"},
        "packageArguments": [{"type": "positional", "value": value} for value in arguments],
    }]})
    response = client.get(detail_url("io.github.acme/bidi"))
    for config in response.context["configs"]:
        # What is copied is what is shown, and it still parses to the same configuration.
        assert json.loads(config["json"]) == config["config"]
    shown = response.context["configs"][0]["json"]
    for escaped in (r"--read-only \u202e; ylno-daer-- \u2066", r"zero\u200bwidth", r"line\u2028break",
                    r"next\u0085line", r"no\u00a0break", r"tag\udb40\udc41"):
        assert escaped in shown
    html = response.content.decode()
    assert not [char for char in html if not char.isprintable() and char not in "\n\t"]


def test_a_nul_character_in_a_url_is_a_client_error(client):
    make_server("io.github.acme/weather")
    search = client.get("/", {"q": "weather\x00"})
    assert search.status_code == 400
    assert "NUL character" in search.content.decode()
    detail = client.get("/servers/io.github.acme/wea%00ther/")
    assert detail.status_code == 404
    assert r"io.github.acme/wea\u0000ther" in detail.content.decode()
    assert client.get(detail_url("io.github.acme/weather"), {"version": "1.0.0\x00"}).status_code == 404


def test_versions_are_listed_newest_first_by_semver_precedence(client):
    # The factory publishes every version at the same moment: only the version numbers order them.
    make_server("io.github.acme/weather", versions=("1.9.0", "build-7", "1.2.0", "1.10.0-rc.1", "1.10.0"))
    response = client.get(detail_url("io.github.acme/weather"))
    assert [v.version_string for v in response.context["versions"]] == [
        "1.10.0", "1.10.0-rc.1", "1.9.0", "1.2.0", "build-7",
    ]
    assert response.context["listing"].version_string == "1.10.0"


@pytest.mark.parametrize(("package", "shown"), [
    ({"registryType": "mcpb", "identifier": "https://example.com/weather.mcpb", "fileSha256": "ab" * 32},
     '<a href="https://example.com/weather.mcpb" rel="noopener noreferrer nofollow">'
     "https://example.com/weather.mcpb</a>"),
    ({"registryType": "npm", "identifier": "--evil", "version": "1.0.0"}, "no command is generated"),
])
def test_a_source_without_a_client_config_is_described_once(client, package, shown):
    make_server("io.github.acme/weather", extra={"packages": [{"transport": {"type": "stdio"}, **package}]})
    response = client.get(detail_url("io.github.acme/weather"))
    html = response.content.decode()
    assert html.count(shown) == 1
    assert "data-client=" not in html, "no per-client block"
    if package["registryType"] == "mcpb":
        assert html.count("ab" * 32) == 2  # the bundle and the package list


def test_copy_buttons_name_what_they_copy_and_current_choices_are_marked(client):
    make_server("io.github.acme/weather", versions=("1.0.0", "1.1.0"), extra={
        "packages": [{"registryType": "npm", "identifier": "@acme/weather", "version": "1.0.0",
                      "transport": {"type": "streamable-http", "url": "http://localhost:3000/mcp"}}],
        "remotes": [{"type": "sse", "url": "https://mcp.example.com/sse"}],
    })
    html = client.get(detail_url("io.github.acme/weather"), {"version": "1.0.0"}).content.decode()
    labels = re.findall(r'<button type="button" class="copy" data-copy="[^"]+" aria-label="([^"]+)"', html)
    assert labels == ["Copy VS Code configuration", "Copy VS Code start command",
                      "Copy Claude Desktop configuration", "Copy Claude Desktop start command",
                      "Copy Cursor configuration", "Copy Cursor start command",
                      "Copy registry base URL", "Copy VS Code setting"]
    assert html.count("<pre ") == html.count('<pre id="') == html.count('tabindex="0"') == 8
    assert 'role="status" aria-live="polite"' in html
    assert re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', html) == ["npm: @acme/weather", "1.0.0"]


@pytest.mark.parametrize("path", ["/no-such-page/", "/servers/"])
def test_unknown_pages_get_the_catalog_404_page(client, settings, path):
    settings.DEBUG = False
    response = client.get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and 'href="/">Back to the catalog</a>' in html
    assert "catalog.css" in html


def test_a_crash_gets_the_catalog_500_page(client, settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.setattr("api.catalog_views.catalog_servers", lambda **kwargs: 1 / 0)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_registry_api_errors_stay_problem_json(client, settings):
    settings.DEBUG = False
    for path in ("/v0.1/no-such-endpoint", "/v0.1/servers/io.github.acme%2Fnope/versions/latest"):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == 404
