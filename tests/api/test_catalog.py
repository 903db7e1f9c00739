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
    assert '<pre id="base-url"><code>http://registry.corp.example</code></pre>' in html
    assert "chat.mcp.gallery.serviceUrl" in html and "MCP Registry URL" in html
    configs = response.context["configs"]
    assert [c["client"] for c in configs] == ["vscode", "claude-desktop", "cursor"]
    vscode = json.loads(configs[0]["json"])
    assert vscode["servers"]["io.github.acme/weather"]["env"] == {"WEATHER_KEY": "${input:WEATHER_KEY}"}
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
    assert re.search(r'<button type="button" class="copy" data-copy="config-vscode" hidden>', html)
    assert "<script>" not in html.split("</main>")[0]
