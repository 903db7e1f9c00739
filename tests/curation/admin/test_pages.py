"""The org `_meta` editor, the review queue and the admin index dashboard."""

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone as django_timezone

from curation import services
from curation.choices import AuditAction, AuditSource
from curation.models import AuditEvent, ServerCuration, VersionCuration
from mirror.choices import SyncMode, SyncOutcome
from mirror.models import Server, ServerVersion, SyncRun
from tests.curation.admin.support import CURATORS, decide, logged_in, make_server, make_user

pytestmark = pytest.mark.django_db

EXAMPLE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"owningTeam": {"type": "string", "minLength": 1},
                   "dataClassification": {"enum": ["public", "internal", "confidential"]}},
    "required": ["owningTeam"],
}


def meta_of(server):
    curation = ServerCuration.objects.filter(server=server).first()
    return curation.meta if curation else {}


# --- the _meta editor -------------------------------------------------------------------------

def test_meta_editor_saves_a_valid_object_and_audits_it(curator_client, curator):
    server = make_server("io.github.acme/one")
    url = reverse("admin:mirror_server_meta", args=[server.pk])

    assert curator_client.get(url).status_code == 200
    response = curator_client.post(url, {"meta": '{"owningTeam": "platform", "ticket": "SEC-1"}',
                                         "reason": "Ownership per SEC-1"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:mirror_server_change", args=[server.pk])
    assert meta_of(server) == {"owningTeam": "platform", "ticket": "SEC-1"}
    event = AuditEvent.objects.get(action=AuditAction.META_UPDATED)
    assert (event.actor_id, event.before, event.after, event.reason) == (curator.pk, {}, meta_of(server),
                                                                         "Ownership per SEC-1")
    # The editor shows the stored object back, pretty-printed.
    editor = curator_client.get(url).content.decode()
    assert "&quot;owningTeam&quot;: &quot;platform&quot;" in editor


def test_meta_editor_requires_a_reason_and_keeps_the_input(curator_client):
    server = make_server("io.github.acme/one")
    url = reverse("admin:mirror_server_meta", args=[server.pk])
    assert 'name="reason"' in curator_client.get(url).content.decode()
    # The editor on the server page asks for it too.
    change_page = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk])).content.decode()
    assert change_page.count('name="reason"') == 3  # decision, version policy and metadata

    response = curator_client.post(url, {"meta": '{"owningTeam": "platform"}', "reason": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert response.context["form"]["meta"].value() == '{"owningTeam": "platform"}'
    assert meta_of(server) == {}
    assert not AuditEvent.objects.filter(action=AuditAction.META_UPDATED).exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("{not json", "Not valid JSON"),
    ('["a", "b"]', "must be a JSON object"),
    ('"just a string"', "must be a JSON object"),
    (json.dumps({"blob": "x" * (16 * 1024)}), "limit is 16384 bytes"),
    ('{"io.modelcontextprotocol.registry/official": {"status": "active"}}', "upstream registry"),
    ('{"nested": {"io.modelcontextprotocol.registry/publisher-provided": 1}}', "upstream registry"),
    ('{"curationState": "approved"}', "written by the registry itself"),
    ('{"a":' * 3000 + "1" + "}" * 3000, "nested too deeply"),
    (json.dumps({"blob": "x" * (64 * 1024)}), "is not read"),
    ('{"id": ' + "9" * 5000 + "}", "more than 4300 digits"),  # valid JSON, past Python's limit for integers
])
def test_meta_editor_turns_bad_input_into_a_form_error(curator_client, text, expected):
    server = make_server("io.github.acme/one")
    decide(server, "pending")  # a curation row exists, with empty metadata
    url = reverse("admin:mirror_server_meta", args=[server.pk])

    response = curator_client.post(url, {"meta": text, "reason": "r"})

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["meta"])
    assert expected in errors
    assert expected in response.content.decode().replace("&#x27;", "'")
    assert response.context["form"]["meta"].value() == text  # the curator's input is kept
    assert meta_of(server) == {}
    assert not AuditEvent.objects.filter(action=AuditAction.META_UPDATED).exists()


def test_meta_editor_saves_indented_text_larger_than_the_compact_limit(curator_client):
    server = make_server("io.github.acme/one")
    url = reverse("admin:mirror_server_meta", args=[server.pk])
    meta = {f"key{number:04}": number for number in range(1000)}
    text = json.dumps(meta, indent=2)
    assert len(json.dumps(meta, separators=(",", ":"))) < 16 * 1024 < len(text)

    assert curator_client.post(url, {"meta": text, "reason": "r"}).status_code == 302
    assert meta_of(server) == meta


def test_meta_editor_enforces_the_configured_schema(curator_client, settings, tmp_path):
    schema = tmp_path / "meta.schema.json"
    schema.write_text(json.dumps(EXAMPLE_SCHEMA))
    settings.REGISTRY_META_SCHEMA = str(schema)
    server = make_server("io.github.acme/one")
    url = reverse("admin:mirror_server_meta", args=[server.pk])

    response = curator_client.post(url, {"meta": '{"dataClassification": "secret"}', "reason": "r"})

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["meta"])
    assert "owningTeam" in errors and "secret" in errors
    assert meta_of(server) == {}

    ok = curator_client.post(url, {"meta": '{"owningTeam": "platform", "dataClassification": "internal"}',
                                   "reason": "r"})
    assert ok.status_code == 302
    assert meta_of(server)["dataClassification"] == "internal"


def test_meta_editor_empty_text_clears_the_metadata(curator_client):
    server = make_server("io.github.acme/one")
    url = reverse("admin:mirror_server_meta", args=[server.pk])
    curator_client.post(url, {"meta": '{"owningTeam": "platform"}', "reason": "r"})
    assert curator_client.post(url, {"meta": "  ", "reason": "team dissolved"}).status_code == 302
    assert meta_of(server) == {}


def test_a_meta_edit_from_an_editor_opened_before_another_edit_is_refused_not_lost(curator_client):
    server = make_server("io.github.acme/one")
    url = reverse("admin:mirror_server_meta", args=[server.pk])
    other_client = logged_in(make_user("dave", group=CURATORS))
    carol_form, dave_form = curator_client.get(url).context["form"], other_client.get(url).context["form"]

    def save(client, form, meta, reason):
        fields = {name: form[name].value() or "" for name in form.fields}
        return client.post(url, {**fields, "meta": meta, "reason": reason})

    assert save(curator_client, carol_form, '{"owningTeam": "platform"}', "SEC-1").status_code == 302
    response = save(other_client, dave_form, '{"dataClassification": "internal"}', "SEC-2")

    assert response.status_code == 200
    assert "Nothing was saved" in response.content.decode()
    assert meta_of(server) == {"owningTeam": "platform"}
    assert response.context["form"]["meta"].value() == '{"dataClassification": "internal"}'  # the input is kept
    # Saved again once seen, it replaces the metadata on purpose.
    merged = '{"owningTeam": "platform", "dataClassification": "internal"}'
    assert save(other_client, response.context["form"], merged, "SEC-2").status_code == 302
    assert meta_of(server) == json.loads(merged)
    assert AuditEvent.objects.filter(action=AuditAction.META_UPDATED).count() == 2
    # The editor on the server page guards its edits the same way.
    change_page = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk])).content.decode()
    assert 'name="expected_meta"' in change_page


def test_the_server_page_forms_label_each_field_of_their_own(curator_client):
    """Three forms on one page each have a `reason`: shared ids would tie every label to the first one."""
    server = make_server("io.github.acme/one")
    html = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk])).content.decode()
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert {"decision_reason", "policy_reason", "meta_reason", "meta_meta"} <= set(ids)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for field_id in re.findall(r'<label for="([^"]+)"', html):
        assert field_id in ids


def test_per_version_meta(curator_client):
    server = make_server("io.github.acme/one", ("1.0.0", "2.0.0"))
    version = server.versions.get(version="2.0.0")
    url = reverse("admin:mirror_server_version_meta", args=[server.pk, version.pk])

    page = curator_client.get(url)
    assert page.status_code == 200 and "2.0.0" in page.content.decode()
    assert curator_client.post(url, {"meta": "[1]", "reason": "r"}).status_code == 200
    assert curator_client.post(url, {"meta": '{"note": "pinned by security"}', "reason": "r"}).status_code == 302

    assert VersionCuration.objects.get(version=version).meta == {"note": "pinned by security"}
    assert meta_of(server) == {}
    event = AuditEvent.objects.get(action=AuditAction.META_UPDATED)
    assert (event.server_name, event.version) == (server.name, "2.0.0")


# --- review queue -----------------------------------------------------------------------------

def test_review_queue_lists_pending_servers_and_versions_newest_first(curator_client, auditor_client):
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for index, name in enumerate(("io.github.acme/old", "io.github.acme/new", "io.github.acme/done")):
        server = make_server(name)
        Server.objects.filter(pk=server.pk).update(first_seen_at=now + timedelta(days=index))
        decide(server, "pending")
    decide(Server.objects.get(name="io.github.acme/done"), "approved")
    reviewed = make_server("io.github.acme/reviewed", ("1.0.0", "1.1.0", "2.0.0"))
    decide(reviewed, "approved")
    services.server_set_version_policy(server=reviewed, policy="reviewed", reason="test", actor_name="cli",
                                       source=AuditSource.CLI)
    # Two newer versions arrive after the switch and wait for review.
    for version, day in (("2.1.0", 5), ("3.0.0", 6)):
        arrived = make_server("io.github.acme/reviewed", (version,)).versions.get(version=version)
        ServerVersion.objects.filter(pk=arrived.pk).update(first_seen_at=now + timedelta(days=day))
        decide(reviewed, "pending", version=arrived)
    url = reverse("admin:mirror_server_review_queue")

    response = curator_client.get(url)

    assert response.status_code == 200
    assert [s.name for s in response.context["servers"]] == ["io.github.acme/new", "io.github.acme/old"]
    assert [v.version for v in response.context["versions"]] == ["3.0.0", "2.1.0"]
    html = response.content.decode()
    assert reverse("admin:mirror_server_decide", args=[Server.objects.get(name="io.github.acme/new").pk]) in html
    # Auditors see the queue without the decision links.
    audit_view = auditor_client.get(url)
    assert audit_view.status_code == 200
    assert "Approve…" not in audit_view.content.decode()
    # The index links to it.
    assert url in curator_client.get(reverse("admin:index")).content.decode()


def test_review_queue_is_refused_to_staff_without_permissions(staff_client):
    assert staff_client.get(reverse("admin:mirror_server_review_queue")).status_code == 403


# --- dashboard --------------------------------------------------------------------------------

def test_dashboard_shows_counts_last_sync_and_recent_events(curator_client):
    for index in range(3):
        decide(make_server(f"io.github.acme/approved-{index}"), "approved", reason=f"ok {index}")
    decide(make_server("io.github.acme/blocked"), "blocked", reason="nope")
    for index in range(2):
        make_server(f"io.github.acme/new-{index}")
    SyncRun.objects.create(mode=SyncMode.FULL, outcome=SyncOutcome.SUCCEEDED, upstream_url="http://127.0.0.1:1",
                           started_at=datetime(2026, 1, 1, tzinfo=timezone.utc), created=7)
    SyncRun.objects.create(mode=SyncMode.INCREMENTAL, outcome=SyncOutcome.FAILED, upstream_url="http://127.0.0.1:1",
                           started_at=datetime(2026, 1, 2, 10, 0, tzinfo=timezone.utc),
                           finished_at=datetime(2026, 1, 2, 10, 5, tzinfo=timezone.utc),
                           pages=3, created=4, changed=2, status_changed=1, unchanged=90, rejected=1,
                           error="upstream returned 503 three times")

    response = curator_client.get(reverse("admin:index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<strong id="count-approved">3</strong>' in html
    assert '<strong id="count-blocked">1</strong>' in html
    assert '<strong id="count-pending">2</strong>' in html
    assert '<strong id="count-queue">2</strong>' in html
    assert "Incremental sync started 2026-01-02 10:00:00 UTC, finished 2026-01-02 10:05:00 UTC." in html
    assert "Failed" in html and "upstream returned 503 three times" in html
    assert "3 pages: 4 new, 2 changed, 1 status changes, 90 unchanged, 1 rejected." in html
    for reason in ("ok 0", "ok 1", "ok 2", "nope"):
        assert reason in html
    # The stock app list is still there below.
    assert reverse("admin:mirror_server_changelist") in html


def test_dashboard_counts_approved_servers_that_changed_upstream_and_links_to_them(curator_client):
    expected = {"deprecated": ["io.github.acme/old"], "deleted": ["io.github.acme/gone", "io.github.acme/gone-2"],
                "missing": ["io.github.acme/vanished"]}
    for name in expected["deprecated"]:
        decide(make_server(name, status="deprecated"), "approved")
    for name in expected["deleted"]:
        decide(make_server(name, status="deleted"), "approved")
    vanished = make_server("io.github.acme/vanished")
    decide(vanished, "approved")
    Server.objects.filter(pk=vanished.pk).update(missing_upstream_since=django_timezone.now())
    decide(make_server("io.github.acme/fine"), "approved")
    decide(make_server("io.github.acme/blocked-and-deleted", status="deleted"), "blocked")
    make_server("io.github.acme/pending-and-deprecated", status="deprecated")

    html = curator_client.get(reverse("admin:index")).content.decode()
    section = html[html.index('id="dashboard-approved-changed"'):]

    for kind, count in (("deprecated", 1), ("deleted", 2), ("missing", 1)):
        assert f'<strong id="count-approved-{kind}">{count}</strong>' in section
    for kind, link in zip(("deprecated", "deleted", "missing"), re.findall(r'<a href="([^"]+)"><strong', section)):
        servers = curator_client.get(link.replace("&amp;", "&")).context["cl"].result_list
        assert sorted(server.name for server in servers) == expected[kind]


def test_dashboard_marks_a_failed_sync_and_says_when_the_last_one_succeeded(curator_client):
    finished = django_timezone.now() - timedelta(hours=3)
    SyncRun.objects.create(mode=SyncMode.INCREMENTAL, outcome=SyncOutcome.SUCCEEDED,
                           upstream_url="http://127.0.0.1:1", started_at=finished - timedelta(minutes=2),
                           finished_at=finished)
    SyncRun.objects.create(mode=SyncMode.INCREMENTAL, outcome=SyncOutcome.FAILED, upstream_url="http://127.0.0.1:1",
                           started_at=django_timezone.now() - timedelta(minutes=5), finished_at=django_timezone.now(),
                           error="upstream returned 503")

    html = curator_client.get(reverse("admin:index")).content.decode()

    assert 'class="registry-panel registry-sync-failed" id="dashboard-sync"' in html
    assert '<strong class="sync-outcome sync-outcome-failed">Failed</strong>' in html
    shown = f"{django_timezone.localtime(finished):%Y-%m-%d %H:%M:%S} UTC"
    assert f"Last successful sync finished <strong>{shown}</strong> (3\xa0hours ago)." in html
    styles = Path(finders.find("admin/registry.css")).read_text()
    assert ".sync-outcome-failed {" in styles and ".registry-panel.registry-sync-failed {" in styles
    assert ".sync-outcome-running {" in styles and ".sync-outcome-succeeded {" in styles


def test_dashboard_says_when_no_sync_has_succeeded_yet(curator_client):
    SyncRun.objects.create(mode=SyncMode.FULL, outcome=SyncOutcome.RUNNING, upstream_url="http://127.0.0.1:1")
    html = curator_client.get(reverse("admin:index")).content.decode()
    assert 'class="registry-panel registry-sync-running"' in html
    assert "No sync has succeeded yet." in html


def test_dashboard_without_any_sync(curator_client):
    html = curator_client.get(reverse("admin:index")).content.decode()
    assert "No sync has run yet." in html


def test_dashboard_is_hidden_from_staff_without_permissions(staff_client):
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dashboard-counts"' not in html
    assert 'id="dashboard-audit"' not in html
    assert 'id="dashboard-sync"' not in html


def test_pending_servers_are_counted_even_before_a_curation_row_exists(curator_client):
    make_server("io.github.acme/fresh")
    html = curator_client.get(reverse("admin:index")).content.decode()
    assert '<strong id="count-pending">1</strong>' in html
