"""In a real headless Chromium, no page breaks the Content-Security-Policy: the catalog with an upstream icon and
its copy buttons, the admin's login, index, changelist (search, filters, an action), change form and audit log,
django-celery-beat's task form, the health status page, and the Swagger UI, which must still render and call the API.
"""

import pytest
from django.contrib.auth.models import User
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import expect

from curation.choices import CurationState
from mirror.models import Server
from tests.api.browser_support import (  # noqa: F401 (fixtures)
    browser, chromium_executable, page, screenshot,
)
from tests.api.catalog_helpers import make_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME = "io.github.acme/csp-weather"
PENDING = "io.github.acme/csp-pending"
ICON = "https://icons.acme.example/weather.png"
# The smallest PNG (1×1, transparent), served for the icon so the test needs no network.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
PASSWORD = "admin-password-for-tests"


@pytest.fixture
def servers(transactional_db):
    """The data, created before the browser starts (Playwright's sync API then owns this thread's event loop)."""
    make_server(NAME, meta={"owningTeam": "Weather Platform"}, extra={
        "title": "CSP Weather",
        "description": "Forecasts for the CSP test",
        "icons": [{"src": ICON}],
        "packages": [{
            "registryType": "npm", "identifier": "@acme/csp-weather", "version": "1.0.0",
            "transport": {"type": "stdio"},
            "environmentVariables": [{"name": "WEATHER_API_KEY", "isSecret": True, "isRequired": True,
                                      "description": "Weather API key"}],
        }],
    })
    make_server(PENDING, state=CurationState.PENDING, extra={"title": "CSP Pending"})
    User.objects.create_superuser("admin", password=PASSWORD)
    CrontabSchedule.objects.create(minute="0", hour="4")
    return {server.name: server.pk for server in Server.objects.all()}


@pytest.fixture
def violations(page):  # noqa: F811
    """What the browser refused under the policy: its console errors and `securitypolicyviolation` events."""
    found = []

    def refused(text: str) -> None:
        found.append(text)

    def console(message) -> None:
        if "Content Security Policy" in message.text:
            refused(message.text)

    page.on("console", console)
    page.context.expose_function("reportCspViolation", refused)
    page.context.add_init_script("""document.addEventListener("securitypolicyviolation", (event) =>
        reportCspViolation(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
                           + ` on ${event.documentURI}:${event.lineNumber}`));""")
    return found


def assert_none_refused(violations: list[str]) -> None:
    assert not violations, "\n".join(violations)


def test_no_page_breaks_the_content_security_policy(live_server, servers, page, violations):  # noqa: F811
    base = live_server.url
    page.route(ICON, lambda route: route.fulfill(body=PNG, content_type="image/png"))

    # The catalog: an upstream icon, and the copy buttons that copy.js reveals and wires up.
    page.goto(f"{base}/")
    assert page.locator(".card").count() == 1
    expect(page.locator(".card img.icon")).to_have_js_property("naturalWidth", 1)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{base}/servers/{NAME}/")
    page.get_by_role("button", name="Copy VS Code configuration").click()
    expect(page.locator("#copy-status")).to_have_text("Copied VS Code configuration")

    # The admin: login, the dashboard, a changelist searched, filtered and acted on, a change form, the audit log.
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("#registry-dashboard").is_visible()
    page.goto(f"{base}/admin/mirror/server/?q=csp&curation_state=pending")
    page.locator("#result_list tbody tr", has_text=PENDING).locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    page.fill("textarea[name=reason]", "Reviewed in SEC-1234")
    page.locator("#content-main form button[type=submit]").click()
    assert "set to approved" in page.locator(".messagelist").inner_text()
    page.goto(f"{base}/admin/mirror/server/{servers[NAME]}/change/")
    assert page.locator("#curation-panels").is_visible()
    page.goto(f"{base}/admin/curation/auditevent/?q=approved")
    page.fill(".registry-actor-filter input[type=text]", "admin")
    page.locator(".registry-actor-filter input[type=submit]").click()
    page.locator("#result_list tbody tr a").first.click()
    assert PENDING in page.locator("#content-main").inner_text()

    # Pages of other apps: django-celery-beat's periodic task form, whose script tells what a crontab means, and
    # django-health-check's status page.
    page.goto(f"{base}/admin/django_celery_beat/periodictask/add/")
    page.select_option("#id_crontab", index=1)
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 04:00")
    page.goto(f"{base}/health/")
    assert "System status" in page.locator("h1").inner_text()

    # The API docs: Swagger UI renders every operation and can call the API.
    page.goto(f"{base}/docs")
    assert_none_refused(violations)  # a refused start-up script is named here, rather than timing out below
    page.locator('.opblock-summary-path[data-path="/v0.1/servers"]').click()
    page.locator(".opblock.is-open .try-out__btn").click()
    page.locator(".opblock.is-open .execute").click()
    assert page.locator(".opblock.is-open .live-responses-table tbody .response-col_status").inner_text() == "200"
    paths = page.request.get(f"{base}/openapi.json").json()["paths"]
    assert page.locator(".opblock").count() == sum(len(operations) for operations in paths.values())
    screenshot(page, "csp-docs")

    page.goto("about:blank")  # the last page's pending reports arrive before this returns
    assert_none_refused(violations)
