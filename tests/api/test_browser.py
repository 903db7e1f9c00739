"""End to end in a real headless Chromium: a curator approves a server in the admin, an employee finds it
in the catalog and copies its VS Code config, then the curator blocks it and it disappears everywhere.
Also: the catalog fits a phone screen, and a copy button copies exactly what its block shows."""

import json
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group, Permission, User
from playwright.sync_api import expect

from curation.choices import CurationState
from tests.api.browser_support import (  # noqa: F401 (fixtures)
    browser, chromium_executable, page, screenshot,
)
from tests.api.catalog_helpers import make_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME = "io.github.acme/browser-weather"
CURATOR_PERMISSIONS = ("view_server", "view_serverversion", "decide_server", "view_servercuration",
                       "view_auditevent")
PASSWORD = "curator-password-for-tests"


def curator() -> User:
    group, _ = Group.objects.get_or_create(name="Registry curators")
    group.permissions.add(*Permission.objects.filter(codename__in=CURATOR_PERMISSIONS))
    user = User.objects.create_user("carol", password=PASSWORD, is_staff=True)
    user.groups.add(group)
    return user


def bulk_decide(page, base, action: str, reason: str) -> None:
    """Select the server on the admin changelist, run a bulk action and give the reason it asks for."""
    page.goto(f"{base}/admin/mirror/server/?q=browser-weather")
    page.locator("#result_list tbody tr", has_text=NAME).locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.fill("textarea[name=reason]", reason)
    page.locator("#content-main form button[type=submit]").click()


def api_names(page, base) -> set[str]:
    response = page.request.get(f"{base}/v0.1/servers?search=browser-weather")
    assert response.status == 200, response.text()
    return {entry["server"]["name"] for entry in response.json()["servers"]}


@pytest.fixture
def pending_server(transactional_db):
    """The data, created before the browser starts (Playwright's sync API then owns this thread's event loop)."""
    make_server(NAME, state=CurationState.PENDING, meta={"owningTeam": "Weather Platform"}, extra={
        "title": "Browser Weather",
        "description": "Forecasts for the browser test",
        "packages": [{
            "registryType": "npm", "identifier": "@acme/browser-weather", "version": "1.0.0",
            "transport": {"type": "stdio"},
            "environmentVariables": [{"name": "WEATHER_API_KEY", "isSecret": True, "isRequired": True,
                                      "description": "Weather API key"}],
        }],
    })
    make_server("io.github.acme/other-tool", extra={"title": "Other Tool"})
    curator()


# Fixture order matters: the data and the audit clean-up come before the browser.
def test_curator_approves_employee_configures_curator_blocks(live_server, pending_server,
                                                              page):  # noqa: F811
    base = live_server.url

    # The curator logs in and approves the pending server with a reason.
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "carol")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    bulk_decide(page, base, "approve_selected", "Reviewed in SEC-1234")
    assert "set to approved" in page.locator(".messagelist").inner_text()
    screenshot(page, "01-admin-approved")

    # An employee finds it by search in the catalog and reads the VS Code config.
    page.goto(f"{base}/")
    page.fill("#q", "weather")
    page.click(".search button[type=submit]")
    cards = page.locator(".card")
    assert cards.count() == 1
    assert "Weather Platform" in cards.first.inner_text()
    screenshot(page, "02-catalog-search")
    page.click("text=Browser Weather")
    page.wait_for_url(f"{base}/servers/{NAME}/")
    config = json.loads(page.locator("#config-vscode").inner_text())
    assert config["servers"][NAME] == {
        "type": "stdio", "command": "npx", "args": ["-y", "@acme/browser-weather@1.0.0"],
        "env": {"WEATHER_API_KEY": "${input:io.github.acme_browser-weather.WEATHER_API_KEY}"},
    }
    assert config["inputs"] == [{"type": "promptString", "id": "io.github.acme_browser-weather.WEATHER_API_KEY",
                                 "description": "Weather API key", "password": True}]
    assert page.locator("#base-url").inner_text().strip() == base
    assert page.locator("button.copy[data-copy=config-vscode]").is_visible()
    screenshot(page, "03-catalog-detail")
    assert NAME in api_names(page, base)

    # The curator blocks it: gone from the catalog, its page and the registry API.
    bulk_decide(page, base, "block_selected", "Vendor revoked, see SEC-1300")
    assert "set to blocked" in page.locator(".messagelist").inner_text()
    page.goto(f"{base}/?q=weather")
    assert page.locator(".card").count() == 0
    assert "No approved server matches" in page.inner_text("main")
    screenshot(page, "04-catalog-after-block")
    response = page.goto(f"{base}/servers/{NAME}/")
    assert response.status == 404
    assert NAME not in api_names(page, base)
    lookup = page.request.get(f"{base}/v0.1/servers/{quote(NAME, safe='')}/versions/latest")
    assert lookup.status == 404


PHONE = {"width": 390, "height": 844}
LONG_NAME = "io.github.acme/long-lines"
BIDI_ARGUMENT = "--read-only \u202e; ylno-daer-- \u2066"


@pytest.fixture
def long_lines_server(transactional_db):
    make_server(LONG_NAME, extra={
        "title": "T" * 100,
        "packages": [{
            "registryType": "npm", "identifier": "@acme/long-lines", "version": "1.0.0", "fileSha256": "a" * 64,
            "transport": {"type": "stdio"},
            "packageArguments": [{"type": "positional", "value": BIDI_ARGUMENT}],
        }],
        "remotes": [{"type": "streamable-http", "url": "https://mcp.example.com/" + "x" * 200 + "/mcp"}],
    })


def test_pages_fit_a_phone_and_copy_what_they_show(live_server, long_lines_server, page):  # noqa: F811
    base = live_server.url
    page.set_viewport_size(PHONE)
    for path in ("/", f"/servers/{LONG_NAME}/", f"/servers/{LONG_NAME}/?source=remote-0"):
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    page.goto(f"{base}/")
    assert page.evaluate("[...document.querySelectorAll('.card-title')].every(t => t.scrollWidth <= t.clientWidth)")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{base}/servers/{LONG_NAME}/")
    screenshot(page, "05-phone-detail")
    page.get_by_role("button", name="Copy VS Code configuration").click()
    # Not wait_for_function: it evaluates a string, which the Content-Security-Policy refuses.
    expect(page.locator("#copy-status")).to_have_text("Copied VS Code configuration")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#config-vscode").inner_text()
    assert json.loads(copied)["servers"][LONG_NAME]["args"][-1] == BIDI_ARGUMENT
    assert BIDI_ARGUMENT not in copied
