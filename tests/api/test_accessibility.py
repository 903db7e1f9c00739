"""WCAG 2.1 A/AA, checked by axe-core in a real headless Chromium: the catalog (list, filters, a search with no
result, a server's page with its copy buttons, the 404 pages, a phone screen) and the admin pages this project
builds or styles (dashboard, curation change form, decision, _meta and review-queue pages, bulk-decision reason page,
audit log filters, policy form), the dashboard and change form also in Django's dark theme.

axe-core comes from axe-playwright-python, which injects it with `page.evaluate`: that runs through the DevTools
protocol, which the Content-Security-Policy does not govern, so the pages are checked with their real policy.
"""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from curation import services
from curation.choices import AuditSource, CurationState, PolicyEffect
from curation.models import Policy
from mirror.choices import SyncMode, SyncOutcome
from mirror.models import SyncRun
from tests.api.browser_support import (  # noqa: F401 (fixtures)
    browser, chromium_executable, page,
)
from tests.api.catalog_helpers import make_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
PHONE = {"width": 390, "height": 844}
PASSWORD = "admin-password-for-tests"
DETAILED = "io.github.acme/a11y-weather"
ICON = "https://icons.acme.example/weather.png"
# The smallest PNG (1×1, transparent), served for the icon so the test needs no network.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def one_line(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Audit:
    """Runs axe on each page visited and keeps every violation, so that one failure lists them all."""

    def __init__(self, browser_page):
        self.page = browser_page
        self.axe = Axe()
        self.found: list[str] = []

    def check(self, label: str) -> None:
        results = self.axe.run(self.page, options=AXE_OPTIONS).response
        path = urlsplit(self.page.url)._replace(scheme="", netloc="").geturl()
        for violation in results["violations"]:
            nodes = "".join(f"\n    {' '.join(map(str, node['target']))}: {one_line(node['html'])}"
                            f"\n      {one_line(node['failureSummary'])}" for node in violation["nodes"])
            self.found.append(f"{label} ({path}): {violation['id']} [{violation['impact']}] {violation['help']} "
                              f"({violation['helpUrl']}){nodes}")

    def assert_no_violations(self) -> None:
        assert not self.found, f"{len(self.found)} accessibility violation(s):\n" + "\n".join(self.found)


@pytest.fixture
def catalog_servers(transactional_db):
    """Servers with and without icons, packages of two types, a remote, env vars and a long description; created
    before the browser starts (Playwright's sync API then owns this thread's event loop)."""
    make_server(DETAILED, versions=("1.0.0", "1.1.0"), meta={"owningTeam": "Weather Platform",
                                                            "dataClassification": "internal"}, extra={
        "title": "Weather",
        "description": "Forecasts, warnings and climate history for every office. " * 6,
        "icons": [{"src": ICON}],
        "websiteUrl": "https://weather.acme.example",
        "packages": [{
            "registryType": "npm", "identifier": "@acme/a11y-weather", "version": "1.1.0",
            "transport": {"type": "stdio"},
            "environmentVariables": [
                {"name": "WEATHER_API_KEY", "isSecret": True, "isRequired": True, "description": "Weather API key"},
                {"name": "WEATHER_UNITS", "default": "metric", "choices": ["metric", "imperial"]},
            ],
            "packageArguments": [{"type": "named", "name": "--region", "value": "eu", "isRepeated": True}],
        }],
        "remotes": [{"type": "streamable-http", "url": "https://mcp.acme.example/weather",
                     "headers": [{"name": "Authorization", "isSecret": True, "isRequired": True,
                                  "description": "Bearer token"}]}],
    })
    make_server("io.github.acme/a11y-tickets", extra={
        "title": "Tickets",
        "packages": [{"registryType": "pypi", "identifier": "acme-tickets", "version": "1.0.0",
                      "transport": {"type": "stdio"}}],
    })
    make_server("io.github.acme/a11y-search", extra={"title": "Search", "remotes": [
        {"type": "sse", "url": "https://mcp.acme.example/search"}]})


def test_catalog_pages_have_no_wcag_violations(live_server, catalog_servers, page, monkeypatch):  # noqa: F811
    monkeypatch.setattr("api.catalog_views.PAGE_SIZE", 2)  # so that the list shows its pagination
    base = live_server.url
    page.route(ICON, lambda route: route.fulfill(body=PNG, content_type="image/png"))
    audit = Audit(page)

    for label, path in (("list", "/"), ("list, page 2", "/?page=2"),
                        ("list, filtered and sorted", "/?runs=local&package_type=npm&sort=updated"),
                        ("search without result", "/?q=no-such-server"),
                        ("server page", f"/servers/{DETAILED}/"),
                        ("server page, remote", f"/servers/{DETAILED}/?source=remote-0"),
                        ("unknown server", "/servers/io.github.acme/unknown/"),
                        ("unknown page", "/no-such-page/")):
        page.goto(base + path)
        if label == "server page":  # copy.js reveals the copy buttons: checked as users get them
            expect(page.get_by_role("button", name="Copy VS Code configuration")).to_be_visible()
        audit.check(label)
    page.set_viewport_size(PHONE)
    page.goto(base + "/")
    audit.check("list on a phone")
    audit.assert_no_violations()


@pytest.fixture
def admin_data(transactional_db):
    """A superuser, servers in each state, a failed last sync, audit events and a policy rule."""
    admin = User.objects.create_superuser("admin", password=PASSWORD)
    approved = make_server("io.github.acme/a11y-approved", state=CurationState.PENDING, meta={"owningTeam": "Ops"})
    services.server_approve(server=approved, reason="Reviewed in SEC-1234", actor=admin, source=AuditSource.ADMIN)
    blocked = make_server("io.github.acme/a11y-blocked", state=CurationState.PENDING)
    services.server_block(server=blocked, reason="Vendor revoked", actor=admin, source=AuditSource.ADMIN)
    make_server("io.github.acme/a11y-pending", state=CurationState.PENDING)
    SyncRun.objects.create(mode=SyncMode.INCREMENTAL, outcome=SyncOutcome.FAILED, upstream_url="http://127.0.0.1:1",
                           started_at=timezone.now() - timedelta(minutes=5), finished_at=timezone.now(),
                           error="upstream returned 503")
    policy = services.policy_save(policy=Policy(name="acme", priority=10, effect=PolicyEffect.APPROVE,
                                                name_glob="io.github.acme/*"),
                                  reason="Our own servers", actor=admin, source=AuditSource.ADMIN)
    return {"server": approved.pk, "policy": policy.pk}


def test_custom_admin_pages_have_no_wcag_violations(live_server, admin_data, page):  # noqa: F811
    base = live_server.url
    audit = Audit(page)
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    audit.check("admin index with the registry dashboard")

    server = f"{base}/admin/mirror/server/{admin_data['server']}"
    for label, url in (("curation server change form", f"{server}/change/"),
                       ("decision page", f"{server}/decide/?state=blocked"),
                       ("_meta editor page", f"{server}/meta/"),
                       ("review queue", f"{base}/admin/mirror/server/review-queue/")):
        page.goto(url)
        audit.check(label)

    page.goto(f"{base}/admin/mirror/server/?curation_state=pending")
    page.locator("#result_list tbody tr", has_text="a11y-pending").locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    page.wait_for_selector("textarea[name=reason]")
    audit.check("bulk-decision reason page")

    page.goto(f"{base}/admin/curation/auditevent/?actor_name=admin&at__gte=2020-01-01")
    audit.check("audit log with actor and date-range filters")

    page.goto(f"{base}/admin/curation/policy/{admin_data['policy']}/change/")
    audit.check("policy change form")

    # Django's admin follows the system's dark mode: our badges and panels must hold up on its dark colours too.
    page.emulate_media(color_scheme="dark")
    for label, url in (("admin index, dark theme", f"{base}/admin/"),
                       ("curation server change form, dark theme", f"{server}/change/")):
        page.goto(url)
        audit.check(label)
    audit.assert_no_violations()
