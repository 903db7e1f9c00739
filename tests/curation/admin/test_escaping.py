"""Upstream text is untrusted: a `<script>` in it renders inert on every admin page that shows it."""

import pytest
from django.urls import reverse

from curation.models import AuditEvent
from tests.curation.admin.support import decide, make_server

pytestmark = pytest.mark.django_db

NAME = "io.github.evil/x<script>alert('name')</script>"
TITLE = "<script>alert(1)</script>"
DESCRIPTION = '<img src=x onerror="alert(2)"><script>alert(3)</script>'
VERSION = "1.0.0<script>alert(4)</script>"
REASON = "<script>alert(5)</script>"
PAYLOADS = ["<script>alert('name')</script>", "<script>alert(1)</script>", "<script>alert(3)</script>",
            '<img src=x onerror="alert(2)">', "<script>alert(4)</script>", "<script>alert(5)</script>"]


@pytest.fixture
def evil_server(db):
    server = make_server(NAME, (VERSION,), title=TITLE, description=DESCRIPTION,
                         repository={"url": "javascript:alert(6)", "source": "github"},
                         websiteUrl='https://example.com/"><script>alert(7)</script>')
    decide(server, "pending")
    decide(server, "blocked", version=server.latest_version, reason=REASON)
    decide(server, "approved", reason=REASON)
    decide(server, "pending", reason=REASON)  # back in the review queue
    return server


def assert_inert(html: str, *expected_escaped: str):
    for payload in PAYLOADS:
        assert payload not in html, payload
    assert "<script>alert" not in html
    assert 'href="javascript:' not in html
    assert "onerror=\"alert" not in html
    for text in expected_escaped:
        assert text in html, text


def test_every_admin_page_escapes_upstream_text(superuser_client, evil_server):
    server, version = evil_server, evil_server.latest_version
    escaped_title = "&lt;script&gt;alert(1)&lt;/script&gt;"
    escaped_name = "io.github.evil/x&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;"
    escaped_version = "1.0.0&lt;script&gt;alert(4)&lt;/script&gt;"
    escaped_reason = "&lt;script&gt;alert(5)&lt;/script&gt;"
    pages = {
        "changelist": (reverse("admin:mirror_server_changelist"), [escaped_name, escaped_title]),
        "search": (reverse("admin:mirror_server_changelist") + "?q=script", [escaped_name, escaped_title]),
        "change view": (reverse("admin:mirror_server_change", args=[server.pk]),
                        [escaped_name, escaped_title, escaped_version, escaped_reason,
                         "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"]),
        "decide": (reverse("admin:mirror_server_decide", args=[server.pk]), [escaped_name, escaped_reason]),
        "version decide": (reverse("admin:mirror_server_version_decide", args=[server.pk, version.pk]),
                           [escaped_name, escaped_version]),
        "meta": (reverse("admin:mirror_server_meta", args=[server.pk]), [escaped_name]),
        "version policy": (reverse("admin:mirror_server_version_policy", args=[server.pk]), [escaped_name]),
        "review queue": (reverse("admin:mirror_server_review_queue"), [escaped_name, escaped_title]),
        "version list": (reverse("admin:mirror_serverversion_changelist"), [escaped_name, escaped_version]),
        "version page": (reverse("admin:mirror_serverversion_change", args=[version.pk]),
                         [escaped_name, escaped_version, escaped_reason]),
        "dashboard": (reverse("admin:index"), [escaped_name, escaped_reason]),
        "audit list": (reverse("admin:curation_auditevent_changelist"), [escaped_name, escaped_reason]),
        "audit event": (reverse("admin:curation_auditevent_change",
                                args=[AuditEvent.objects.filter(version=VERSION).first().pk]),
                        [escaped_name, escaped_version, escaped_reason]),
    }
    for label, (url, expected) in pages.items():
        response = superuser_client.get(url)
        assert response.status_code == 200, label
        assert_inert(response.content.decode(), *expected)


def test_version_inline_escapes_the_version_and_its_decision(superuser_client, evil_server):
    response = superuser_client.get(reverse("admin:mirror_server_change", args=[evil_server.pk]))
    inline = response.context["inline_admin_formsets"][0]
    rendered = "".join(str(field.contents()) for form in inline for fieldset in form for line in fieldset
                       for field in line)
    assert "1.0.0&lt;script&gt;alert(4)&lt;/script&gt;" in rendered
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in rendered
    assert "<script>" not in rendered


def test_meta_values_are_escaped_in_the_editor_and_the_read_only_view(superuser_client, evil_server):
    url = reverse("admin:mirror_server_meta", args=[evil_server.pk])
    superuser_client.post(url, {"meta": '{"note": "</textarea><script>alert(8)</script>"}', "reason": "r"})
    for page in (url, reverse("admin:mirror_server_change", args=[evil_server.pk])):
        html = superuser_client.get(page).content.decode()
        assert "</textarea><script>alert(8)" not in html
        assert "&lt;/textarea&gt;&lt;script&gt;alert(8)&lt;/script&gt;" in html
