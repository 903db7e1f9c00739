"""The audit trail admin (read-only for everyone, filters, export) and the policy admin."""

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from django.urls import reverse

from curation.choices import AuditAction, AuditSource
from curation.models import AuditEvent, Policy
from tests.curation.admin.support import decide, logged_in, make_server

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:curation_auditevent_changelist")


def event(at, *, actor_name="alice", source=AuditSource.ADMIN, action=AuditAction.SERVER_APPROVED,
          server_name="io.github.acme/one", version="", reason="because", **extra):
    return AuditEvent.objects.create(at=at, actor_name=actor_name, source=source, action=action,
                                     server_name=server_name, version=version, reason=reason, **extra)


@pytest.fixture
def events(db):
    return [
        event(datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc), reason="first"),
        event(datetime(2026, 1, 11, 23, 59, tzinfo=timezone.utc), actor_name="bob",
              action=AuditAction.SERVER_BLOCKED, server_name="io.github.acme/two", reason="second"),
        event(datetime(2026, 1, 12, 0, 0, tzinfo=timezone.utc), actor_name="sync", source=AuditSource.SYNC,
              action=AuditAction.UPSTREAM_STATUS_CHANGED, server_name="io.github.other/three", version="1.0.0",
              before={"status": "active"}, after={"status": "deleted"}, reason=""),
    ]


def listed(response):
    return [e.reason or e.action for e in response.context["cl"].result_list]


def test_auditor_and_curator_see_the_list_plain_staff_does_not(auditor_client, curator_client, staff_client,
                                                               events):
    assert auditor_client.get(CHANGELIST).status_code == 200
    assert curator_client.get(CHANGELIST).status_code == 200
    assert staff_client.get(CHANGELIST).status_code == 403


def test_nobody_can_add_change_or_delete_events_not_even_a_superuser(superuser_client, auditor_client, events):
    target = events[0]
    change_url = reverse("admin:curation_auditevent_change", args=[target.pk])
    delete_url = reverse("admin:curation_auditevent_delete", args=[target.pk])
    for client in (superuser_client, auditor_client):
        view = client.get(change_url)
        assert view.status_code == 200  # a read-only view
        html = view.content.decode()
        assert 'name="_save"' not in html and 'name="reason"' not in html
        assert "first" in html
        assert client.post(change_url, {"reason": "rewritten", "actor_name": "mallory"}).status_code == 403
        assert client.get(delete_url).status_code == 403
        assert client.post(delete_url, {"post": "yes"}).status_code == 403
        assert client.get(reverse("admin:curation_auditevent_add")).status_code == 403
        actions = client.get(CHANGELIST).context["action_form"].fields["action"].choices
        assert "delete_selected" not in dict(actions)
        bulk = client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [target.pk], "index": 0,
                                        "post": "yes"})
        assert bulk.status_code in (200, 302)
    target.refresh_from_db()
    assert target.reason == "first" and target.actor_name == "alice"
    assert AuditEvent.objects.count() == 3


def test_filters_by_action_actor_source_and_date_range(auditor_client, events):
    def reasons(query):
        response = auditor_client.get(CHANGELIST, query)
        assert response.status_code == 200
        return sorted(listed(response))

    assert reasons({"action__exact": AuditAction.SERVER_BLOCKED}) == ["second"]
    assert reasons({"actor_name": "alice"}) == ["first"]
    assert reasons({"source__exact": AuditSource.SYNC}) == [AuditAction.UPSTREAM_STATUS_CHANGED]
    # Both ends are inclusive days.
    assert reasons({"at__gte": "2026-01-11", "at__lte": "2026-01-11"}) == ["second"]
    assert reasons({"at__gte": "2026-01-11"}) == ["second", AuditAction.UPSTREAM_STATUS_CHANGED]
    assert reasons({"at__lte": "2026-01-10"}) == ["first"]
    assert reasons({"at__gte": "2026-01-11", "actor_name": "bob"}) == ["second"]


def test_a_malformed_date_is_ignored_with_a_warning(auditor_client, events):
    response = auditor_client.get(CHANGELIST, {"at__gte": "yesterday", "at__lte": "2026-01-10"})
    assert response.status_code == 200
    assert listed(response) == ["first"]
    assert any("yesterday" in str(message) for message in response.context["messages"])


@pytest.mark.parametrize("query", [{"at__lte": "9999-12-31"}, {"at__gte": "0001-01-01", "at__lte": "9999-12-31"}])
def test_the_first_and_last_representable_days_bound_nothing(auditor_client, events, query):
    response = auditor_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert len(listed(response)) == len(events)
    assert not list(response.context["messages"])

    export = auditor_client.get(reverse("admin:curation_auditevent_export", args=["csv"]), query)
    assert export.status_code == 200
    assert len(b"".join(export.streaming_content).decode().splitlines()) == 1 + len(events)


def test_date_range_inputs_keep_the_other_filters(auditor_client, events):
    html = auditor_client.get(CHANGELIST, {"actor_name": "bob", "at__gte": "2026-01-01"}).content.decode()
    assert 'type="date" name="at__gte" value="2026-01-01"' in html
    assert '<input type="hidden" name="actor_name" value="bob">' in html


def test_search_by_server_name(auditor_client, events):
    response = auditor_client.get(CHANGELIST, {"q": "acme/two"})
    assert listed(response) == ["second"]
    response = auditor_client.get(CHANGELIST, {"q": "io.github.acme"})
    assert sorted(listed(response)) == ["first", "second"]


def test_csv_export_honours_the_current_filters(auditor_client, events):
    html = auditor_client.get(CHANGELIST, {"q": "acme"}).content.decode()
    export_url = reverse("admin:curation_auditevent_export", args=["csv"])
    assert f'href="{export_url}?q=acme"' in html

    response = auditor_client.get(export_url, {"q": "acme"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["reason"] for row in rows) == ["first", "second"]
    assert {row["actor"] for row in rows} == {"alice", "bob"}


def test_jsonl_export_of_everything(auditor_client, events):
    response = auditor_client.get(reverse("admin:curation_auditevent_export", args=["jsonl"]))
    assert response.status_code == 200
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert len(lines) == 3
    sync_event = next(line for line in lines if line["source"] == "sync")
    assert sync_event["before"] == {"status": "active"} and sync_event["after"] == {"status": "deleted"}
    assert sync_event["server_name"] == "io.github.other/three" and sync_event["version"] == "1.0.0"


def test_export_action_on_selected_events(auditor_client, events):
    response = auditor_client.post(CHANGELIST, {"action": "export_jsonl", "_selected_action": [events[1].pk],
                                                "index": 0})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["reason"] for line in lines] == ["second"]


def test_export_needs_the_export_permission(staff, events):
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    viewer = logged_in(staff)
    assert viewer.get(CHANGELIST).status_code == 200
    assert viewer.get(reverse("admin:curation_auditevent_export", args=["csv"])).status_code == 403
    assert "Export CSV" not in viewer.get(CHANGELIST).content.decode()
    assert viewer.get(CHANGELIST).context["action_form"] is None  # neither export nor delete is offered
    response = viewer.post(CHANGELIST, {"action": "export_csv", "_selected_action": [events[0].pk], "index": 0})
    assert not hasattr(response, "streaming_content")


def test_curators_may_export_too(curator_client, events):
    response = curator_client.get(reverse("admin:curation_auditevent_export", args=["csv"]))
    assert response.status_code == 200
    assert len(b"".join(response.streaming_content).decode().splitlines()) == 1 + len(events)


def test_unknown_export_format_or_filter_is_a_clear_400(auditor_client, events):
    assert auditor_client.get(reverse("admin:curation_auditevent_export", args=["xml"])).status_code == 400
    response = auditor_client.get(reverse("admin:curation_auditevent_export", args=["csv"]), {"nope": "1"})
    assert response.status_code == 400


# --- policies ---------------------------------------------------------------------------------

def test_policy_add_change_delete_are_audited(curator_client, curator):
    add = curator_client.post(reverse("admin:curation_policy_add"), {
        "name": "acme", "priority": 10, "enabled": "on", "effect": "approve", "name_glob": "io.github.acme/*",
        "registry_type": "npm", "identifier_glob": "", "remote_host": ""})
    assert add.status_code == 302
    policy = Policy.objects.get(name="acme")
    created = AuditEvent.objects.get(action=AuditAction.POLICY_CREATED)
    assert (created.actor_id, created.source, created.after["name_glob"]) == (curator.pk, AuditSource.ADMIN,
                                                                             "io.github.acme/*")

    change = curator_client.post(reverse("admin:curation_policy_change", args=[policy.pk]), {
        "name": "acme", "priority": 10, "enabled": "on", "effect": "block", "name_glob": "io.github.acme/*",
        "registry_type": "npm", "identifier_glob": "", "remote_host": ""})
    assert change.status_code == 302
    updated = AuditEvent.objects.get(action=AuditAction.POLICY_UPDATED)
    assert (updated.before["effect"], updated.after["effect"]) == ("approve", "block")

    delete = curator_client.post(reverse("admin:curation_policy_delete", args=[policy.pk]), {"post": "yes"})
    assert delete.status_code == 302
    assert not Policy.objects.exists()
    assert AuditEvent.objects.get(action=AuditAction.POLICY_DELETED).before["name"] == "acme"


def test_policy_bulk_delete_audits_each_rule(curator_client):
    for name in ("one", "two"):
        curator_client.post(reverse("admin:curation_policy_add"), {
            "name": name, "priority": 100, "effect": "block", "name_glob": f"{name}/*"})
    assert Policy.objects.count() == 2
    response = curator_client.post(reverse("admin:curation_policy_changelist"), {
        "action": "delete_selected", "_selected_action": list(Policy.objects.values_list("pk", flat=True)),
        "index": 0, "post": "yes"})
    assert response.status_code == 302
    assert not Policy.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.POLICY_DELETED).count() == 2


def test_policy_form_errors_are_shown_not_raised(curator_client):
    response = curator_client.post(reverse("admin:curation_policy_add"), {
        "name": "", "priority": "soon", "effect": "explode", "registry_type": "cobol"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"name", "priority", "effect", "registry_type"} <= set(errors)
    assert not AuditEvent.objects.exists()


def test_auditor_sees_policies_but_cannot_edit_them(auditor_client, curator_client):
    curator_client.post(reverse("admin:curation_policy_add"), {"name": "one", "priority": 1, "effect": "block"})
    policy = Policy.objects.get()
    assert auditor_client.get(reverse("admin:curation_policy_changelist")).status_code == 200
    assert auditor_client.get(reverse("admin:curation_policy_add")).status_code == 403
    assert auditor_client.post(reverse("admin:curation_policy_change", args=[policy.pk]),
                               {"name": "two", "priority": 1, "effect": "approve"}).status_code == 403
    assert auditor_client.post(reverse("admin:curation_policy_delete", args=[policy.pk]),
                               {"post": "yes"}).status_code == 403
    policy.refresh_from_db()
    assert (policy.name, policy.effect) == ("one", "block")


def test_server_history_links_to_the_filtered_audit_log(curator_client):
    server = make_server("io.github.acme/one")
    decide(server, "approved", reason="looks fine")
    html = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk])).content.decode()
    assert f'{CHANGELIST}?server_name=io.github.acme%2Fone' in html
    response = curator_client.get(CHANGELIST, {"server_name": "io.github.acme/one"})
    assert response.status_code == 200
    assert listed(response) == ["looks fine"]
