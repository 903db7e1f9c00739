import json
import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
from django.urls import reverse

from curation.choices import CurationState
from curation.models import Listing
from mirror.models import ServerVersion
from tests.api.catalog_helpers import REMOTE, make_server, nested_variables, package, set_state

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'


def detail_url(name):
    return reverse("catalog-detail", args=[name])


def listed_names(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'class="card-name">([^<]+)<', response.content.decode())


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


def test_detail_of_version_latest_is_the_latest_as_in_the_api(client):
    make_server("io.github.acme/weather", versions=("1.0.0", "1.1.0"))
    response = client.get(detail_url("io.github.acme/weather"), {"version": "latest"})
    assert response.status_code == 200
    assert response.context["listing"].version_string == "1.1.0"


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


def test_a_template_whose_variables_nest_keeps_the_page_small(client):
    # Each level used `{a}` ten times, and each `{a}` was expanded again: 850 bytes of server.json made a
    # 3 MB page in 5 s, and two levels more took minutes.
    make_server("io.github.acme/weather", extra={"packages": [
        {**package("npm"), "packageArguments": [nested_variables(depth=5, repeats=10)]}]})
    response = client.get(detail_url("io.github.acme/weather"))
    assert response.status_code == 200
    assert len(response.content) < 100_000


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
    html = response.content.decode()
    assert "Something went wrong" in html
    # Its styles come from a file: the Content-Security-Policy applies no inline <style>.
    assert "<style" not in html and '<link rel="stylesheet" href="/static/server_error.css">' in html


def test_registry_api_errors_stay_problem_json(client, settings):
    settings.DEBUG = False
    for path in ("/v0.1/no-such-endpoint", "/v0.1/servers/io.github.acme%2Fnope/versions/latest"):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == 404


# --- Filters and sorting ----------------------------------------------------------------------


@pytest.fixture
def runtimes():
    """The names of approved servers, keyed by how they run and which packages they ship; plus an unapproved
    pypi server, which no filter lists."""
    servers = {
        "remote": make_server("io.github.acme/remote", extra={"packages": [], "remotes": [REMOTE]}),
        "both": make_server("io.github.acme/both", extra={"packages": [package("npm")], "remotes": [REMOTE]}),
        "npm": make_server("io.github.acme/npm"),
        "pypi": make_server("io.github.acme/pypi", extra={"packages": [package("pypi")]}),
        "oci_npm": make_server("io.github.acme/oci-npm", extra={"packages": [package("oci"), package("npm")]}),
        "neither": make_server("io.github.acme/neither", extra={"packages": []}),
    }
    make_server("io.github.acme/pending-pypi", state=CurationState.PENDING, extra={"packages": [package("pypi")]})
    return {kind: server.name for kind, server in servers.items()}


def test_list_filters_by_how_a_server_runs(client, runtimes):
    assert listed_names(client.get("/", {"runs": "remote"})) == [runtimes["both"], runtimes["remote"]]
    assert listed_names(client.get("/", {"runs": "local"})) == sorted(
        [runtimes["both"], runtimes["npm"], runtimes["oci_npm"], runtimes["pypi"]])
    assert listed_names(client.get("/", {"runs": ""})) == sorted(runtimes.values())


@pytest.mark.parametrize(("registry_type", "kinds"), [
    ("npm", ["both", "npm", "oci_npm"]),
    ("pypi", ["pypi"]),
    ("oci", ["oci_npm"]),
    ("nuget", []),
    ("", ["remote", "both", "npm", "pypi", "oci_npm", "neither"]),
])
def test_list_filters_by_package_type(client, runtimes, registry_type, kinds):
    assert listed_names(client.get("/", {"package_type": registry_type})) == sorted(runtimes[k] for k in kinds)


def test_filters_combine_with_each_other_and_the_search(client, runtimes):
    assert listed_names(client.get("/", {"runs": "remote", "package_type": "npm"})) == [runtimes["both"]]
    assert listed_names(client.get("/", {"runs": "remote", "package_type": "pypi"})) == []
    assert listed_names(client.get("/", {"q": "npm", "runs": "local"})) == [runtimes["npm"], runtimes["oci_npm"]]
    assert listed_names(client.get("/", {"q": "oci", "package_type": "npm", "sort": "title"})) == [
        runtimes["oci_npm"]]
    html = client.get("/", {"q": "pypi", "runs": "remote"}).content.decode()
    assert "No approved server matches “pypi” and these filters." in html


def test_filters_read_the_served_version_only(client):
    server = make_server("io.github.acme/moved", versions=("1.0.0", "2.0.0"), extra={"packages": [package("npm")]})
    ServerVersion.objects.filter(server=server, version="1.0.0").update(
        document={"name": server.name, "version": "1.0.0", "packages": [package("pypi")], "remotes": [REMOTE]})
    assert listed_names(client.get("/", {"package_type": "npm"})) == [server.name]
    assert listed_names(client.get("/", {"package_type": "pypi"})) == []
    assert listed_names(client.get("/", {"runs": "remote"})) == []


@pytest.fixture
def titled():
    """Names in name order; titles that sort otherwise, ignoring case and falling back to the name's last part."""
    make_server("io.github.acme/a-server", extra={"title": "Zulu"})
    make_server("io.github.acme/b-server", extra={"title": "alpha"})
    make_server("io.github.acme/c-server", extra={"title": ""})
    make_server("io.github.acme/d-server", extra={"title": "Bravo"})
    make_server("io.github.acme/e-server", extra={"title": "bravo"})
    make_server("io.github.zzz/aardvark")


def test_list_sorts_by_name_by_default(client, titled):
    by_name = ["io.github.acme/a-server", "io.github.acme/b-server", "io.github.acme/c-server",
               "io.github.acme/d-server", "io.github.acme/e-server", "io.github.zzz/aardvark"]
    assert listed_names(client.get("/")) == by_name
    assert listed_names(client.get("/", {"sort": "name"})) == by_name
    assert listed_names(client.get("/", {"sort": ""})) == by_name


def test_list_sorts_by_the_title_shown_ignoring_case(client, titled):
    response = client.get("/", {"sort": "title"})
    assert listed_names(response) == [
        "io.github.zzz/aardvark",  # no title: "aardvark", as its card shows
        "io.github.acme/b-server",  # alpha
        "io.github.acme/d-server", "io.github.acme/e-server",  # Bravo, bravo: then by name
        "io.github.acme/c-server",  # an empty title: "c-server"
        "io.github.acme/a-server",  # Zulu
    ]
    assert re.findall(r'class="card-title">([^<]+)<', response.content.decode()) == [
        "aardvark", "alpha", "Bravo", "bravo", "c-server", "Zulu"]


def test_a_title_that_is_not_text_sorts_as_the_name_its_card_shows(client):
    # Schemas before 2025-10-11 do not define `title`, so a server.json under one may hold any JSON there.
    make_server("io.github.acme/mango", extra={"title": "Mango"})
    make_server("io.github.acme/zebra", extra={"title": 1})
    make_server("io.github.acme/yak", extra={"title": ["Aardvark"]})
    response = client.get("/", {"sort": "title"})
    assert re.findall(r'class="card-title">([^<]+)<', response.content.decode()) == ["Mango", "yak", "zebra"]
    assert listed_names(response) == ["io.github.acme/mango", "io.github.acme/yak", "io.github.acme/zebra"]


def test_list_sorts_by_most_recently_updated(client, titled):
    updated = {"io.github.acme/c-server": 3, "io.github.zzz/aardvark": 2, "io.github.acme/b-server": 2}
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    Listing.objects.update(updated_at=base)
    for name, days in updated.items():
        Listing.objects.filter(name=name).update(updated_at=base + timedelta(days=days))
    response = client.get("/", {"sort": "updated"})
    assert listed_names(response) == [
        "io.github.acme/c-server", "io.github.acme/b-server", "io.github.zzz/aardvark",
        "io.github.acme/a-server", "io.github.acme/d-server", "io.github.acme/e-server",
    ]
    assert re.findall(r'<dt>Updated</dt><dd><time datetime="([^"]+)">([^<]+)</time>', response.content.decode())[:2] \
        == [("2026-01-04T00:00:00+00:00", "4 Jan 2026"), ("2026-01-03T00:00:00+00:00", "3 Jan 2026")]
    assert listed_names(client.get("/", {"sort": "updated", "q": "acme"}))[:2] == [
        "io.github.acme/c-server", "io.github.acme/b-server"]


def test_the_controls_show_the_current_choices_and_how_many_match(client, runtimes):
    html = client.get("/", {"q": "acme", "runs": "local", "package_type": "npm", "sort": "title"}).content.decode()
    assert '<form id="catalog-search" class="search" method="get"' in html
    for name, label, chosen in (("runs", "Runs", "local"), ("package_type", "Package type", "npm"),
                                ("sort", "Sort by", "title")):
        assert f'<label for="id_{name}">{label}</label>' in html
        assert f'<select name="{name}" form="catalog-search" id="id_{name}">' in html
        assert f'<option value="{chosen}" selected>' in html
    assert html.count(" selected>") == 3
    assert '<button type="submit" form="catalog-search">Apply</button>' in html
    assert "3 servers match “acme” and these filters." in html
    assert '<a href="/?q=acme&amp;sort=title">Clear filters</a>' in html

    html = client.get("/", {"package_type": "pypi"}).content.decode()
    assert "1 server matches these filters." in html
    assert '<a href="/">Clear filters</a>' in html

    html = client.get("/").content.decode()
    assert "6 servers approved for use." in html
    assert "Clear filters" not in html
    assert '<option value="" selected>Remote or local</option>' in html


def test_pagination_keeps_the_search_filters_and_sort(client):
    for index in range(30):
        make_server(f"io.github.acme/server-{index:02d}", extra={"title": f"Title {29 - index:02d}",
                                                                 "remotes": [REMOTE]})
    make_server("io.github.acme/local-only")
    query = {"q": "acme", "runs": "remote", "package_type": "npm", "sort": "title"}
    first = client.get("/", query)
    assert listed_names(first) == [f"io.github.acme/server-{index:02d}" for index in range(29, 5, -1)]
    next_links = re.findall(r'<a href="([^"]+)">Next →</a>', first.content.decode())
    assert next_links == ["?q=acme&amp;runs=remote&amp;package_type=npm&amp;sort=title&amp;page=2"]

    second = client.get("/" + unescape(next_links[0]))
    assert listed_names(second) == [f"io.github.acme/server-{index:02d}" for index in range(5, -1, -1)]
    html = second.content.decode()
    assert "Page 2 of 2" in html
    assert '<a href="?q=acme&amp;runs=remote&amp;package_type=npm&amp;sort=title&amp;page=1">← Previous</a>' in html


def test_links_built_from_the_query_are_escaped(client):
    make_server("io.github.acme/weather", extra={"title": XSS})
    html = client.get("/", {"q": '"><b>x', "runs": "local", "sort": "title"}).content.decode()
    assert "<b>x" not in html and XSS not in html
    assert '<a href="/?q=%22%3E%3Cb%3Ex&amp;sort=title">Clear filters</a>' in html


RUNS_PROBLEM = "The runs filter must be remote or local, or empty for both."
PACKAGE_TYPE_PROBLEM = "The package_type filter must be one of npm, pypi, oci, nuget, mcpb, or empty for any."
SORT_PROBLEM = "The sort order must be name, title or updated."


@pytest.mark.parametrize(("query", "problem"), [
    ({"runs": "mars"}, RUNS_PROBLEM),
    ({"runs": "remote\x00"}, RUNS_PROBLEM),
    ({"package_type": "cobol"}, PACKAGE_TYPE_PROBLEM),
    ({"package_type": "NPM"}, PACKAGE_TYPE_PROBLEM),
    ({"sort": "-name"}, SORT_PROBLEM),
    ({"sort": "title\x00", "runs": "remote"}, SORT_PROBLEM),
    ({"q": "weather\x00", "runs": "remote"}, "The search text (q) contains a NUL character."),
])
def test_bad_query_values_get_the_400_page_naming_the_parameter(client, query, problem):
    make_server("io.github.acme/weather")
    response = client.get("/", query)
    assert response.status_code == 400
    assert response.templates[0].name == "catalog/bad_request.html"
    assert f"<p>{problem}</p>" in response.content.decode()


def test_empty_values_filter_nothing(client, runtimes):
    response = client.get("/", {"q": "", "runs": "", "package_type": "", "sort": "", "page": ""})
    assert listed_names(response) == sorted(runtimes.values())
    assert "Clear filters" not in response.content.decode()


def test_list_query_count_does_not_grow_with_the_servers(client, django_assert_num_queries):
    query = {"q": "acme", "runs": "remote", "package_type": "npm", "sort": "title"}

    def make_servers(start, stop):
        for index in range(start, stop):
            make_server(f"io.github.acme/server-{index:02d}", meta={"owningTeam": "Platform"},
                        extra={"title": f"Server {index}", "remotes": [REMOTE]})

    make_servers(0, 2)
    with django_assert_num_queries(2):  # the count and the page
        assert len(listed_names(client.get("/", query))) == 2
    make_servers(2, 40)
    with django_assert_num_queries(2):
        assert len(listed_names(client.get("/", query))) == 24
    with django_assert_num_queries(2):
        assert len(listed_names(client.get("/", {**query, "sort": "updated", "page": 2}))) == 16
