"""HTML pages carry a strict Content-Security-Policy (django-csp): scripts only from this site's files.

tests/api/test_browser_csp.py checks in Chromium that no page breaks it.
"""

import pytest

from tests.api.catalog_helpers import make_server

pytestmark = pytest.mark.django_db

BASE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def policy(response) -> dict[str, list[str]]:
    directives = response["Content-Security-Policy"].split(";")
    return {name: sources for name, *sources in (directive.split() for directive in directives)}


@pytest.mark.parametrize("path, additions", [
    ("/", {"img-src": ["https:"]}),  # server icons
    ("/servers/io.github.acme/weather/", {"img-src": ["https:"]}),
    ("/admin/", {}),
    ("/admin/mirror/server/", {}),
    ("/docs", {}),
    ("/health/", {"style-src": ["'unsafe-inline'"]}),  # django-health-check's inline <style>
])
def test_html_pages_carry_the_policy(admin_client, path, additions):
    make_server("io.github.acme/weather")
    response = admin_client.get(path)
    assert response.status_code == 200
    assert policy(response) == {name: [*sources, *additions.get(name, [])] for name, sources in BASE_POLICY.items()}


def test_the_admin_login_page_carries_the_policy(client):
    assert policy(client.get("/admin/login/")) == BASE_POLICY
