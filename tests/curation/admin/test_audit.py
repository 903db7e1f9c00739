"""The audit trail admin (read-only for everyone, filters, export) and the policy admin."""

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curation.choices import AuditAction, AuditSource
from curation.models import AuditEvent, Policy
from tests.curation.admin.support import CURATORS, decide, logged_in, make_server, make_user

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


def test_search_covers_reasons_actors_versions_and_actions(auditor_client, events):
    event(datetime(2026, 1, 13, tzinfo=timezone.utc), actor_name="carol", action=AuditAction.VERSION_BLOCKED,
          server_name="io.github.acme/four", version="2.1.0", reason="SEC-300 compromised release")

    def search(term):
        response = auditor_client.get(CHANGELIST, {"q": term})
        assert response.status_code == 200
        return sorted(listed(response))

    assert search("sec-300") == ["SEC-300 compromised release"]
    assert search("carol") == ["SEC-300 compromised release"]
    assert search("2.1.0") == ["SEC-300 compromised release"]
    assert search("blocked") == ["SEC-300 compromised release", "second"]  # action codes and labels
    assert search("status changed") == [AuditAction.UPSTREAM_STATUS_CHANGED]
    assert search("version blocked") == ["SEC-300 compromised release"]
    assert search('"compromised release" acme') == ["SEC-300 compromised release"]
    assert search("bob blocked") == ["second"]
    event(datetime(2026, 1, 14, tzinfo=timezone.utc), action=AuditAction.POLICY_CREATED, server_name="",
          after={"name": "acme-approve"}, reason="SEC-10")
    assert search("acme-approve") == ["SEC-10"]  # a rule's events name it in `after` (or `before`) only


def test_search_query_count_does_not_grow_with_the_matches(auditor_client):
    def queries(term):
        with CaptureQueriesContext(connection) as context:
            assert auditor_client.get(CHANGELIST, {"q": term}).status_code == 200
        return len(context.captured_queries)

    event(datetime(2026, 1, 1, tzinfo=timezone.utc), reason="SEC-1 once")
    few = queries("SEC-1")
    for day in range(2, 30):
        event(datetime(2026, 1, day, tzinfo=timezone.utc), actor_name=f"user{day}", reason=f"SEC-1 again {day}")
    assert queries("SEC-1") == few


def test_actor_filter_lists_people_first_and_finds_any_actor_among_hundreds(auditor_client):
    at = datetime(2026, 1, 10, tzinfo=timezone.utc)
    for number in range(250):
        event(at, actor_name=f"policy:rule-{number:03d}", source=AuditSource.SYNC, reason=f"rule {number}")
    event(at, actor_name="sync", source=AuditSource.SYNC, reason="synced")
    event(at, actor_name="zoe", reason="zoe decided")
    event(at, actor_name="adam", reason="adam decided")

    response = auditor_client.get(CHANGELIST)
    html = response.content.decode()
    actor_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "actor")
    links = [link["display"] for link in next(actor_filter.choices(response.context["cl"]))["links"]]
    assert links[:4] == ["All", "adam", "zoe", "sync"] and links[4] == "policy:rule-000"
    assert "?actor_name=zoe" in html
    assert "153 more: type the name above." in html
    assert '<option value="policy:rule-249">' in html  # suggested by the text box
    assert listed(auditor_client.get(CHANGELIST, {"actor_name": "policy:rule-249"})) == ["rule 249"]


def test_the_server_filter_from_server_links_is_visible_clearable_and_kept_by_exports(auditor_client, events):
    response = auditor_client.get(CHANGELIST, {"server_name": "io.github.acme/two"})

    assert listed(response) == ["second"]
    html = response.content.decode()
    assert response.context["cl"].has_active_filters
    assert "By server" in html and '<li class="selected">\n    <a href="?server_name=io.github.acme%2Ftwo"' in html
    assert "Clear all filters" in html
    export_url = reverse("admin:curation_auditevent_export", args=["csv"])
    assert f'href="{export_url}?server_name=io.github.acme%2Ftwo"' in html
    export = auditor_client.get(export_url, {"server_name": "io.github.acme/two"})
    assert [row["reason"] for row in csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))] \
        == ["second"]
    # Without it, the filter is not offered at all: there are too many servers to list.
    assert "By server" not in auditor_client.get(CHANGELIST).content.decode()


def test_times_show_seconds_and_the_time_zone(auditor_client, events, settings):
    html = auditor_client.get(CHANGELIST).content.decode()
    assert "2026-01-11 23:59:00 UTC" in html
    detail = auditor_client.get(reverse("admin:curation_auditevent_change", args=[events[1].pk])).content.decode()
    assert "2026-01-11 23:59:00 UTC" in detail
    settings.TIME_ZONE = "Europe/Berlin"
    assert "2026-01-12 00:59:00 CET" in auditor_client.get(CHANGELIST).content.decode()


def test_the_actor_links_to_the_user_only_for_those_who_may_view_users(auditor_client, superuser_client, auditor):
    acted = event(datetime(2026, 1, 10, tzinfo=timezone.utc), actor_name="audrey", actor=auditor)
    url = reverse("admin:curation_auditevent_change", args=[acted.pk])
    user_url = reverse("admin:auth_user_change", args=[auditor.pk])

    as_auditor = auditor_client.get(url).content.decode()
    assert user_url not in as_auditor and "audrey" in as_auditor
    assert auditor_client.get(user_url).status_code == 403
    assert f'<a href="{user_url}">audrey</a>' in superuser_client.get(url).content.decode()


def test_a_reversed_date_range_warns_and_its_export_is_refused(auditor_client, events):
    query = {"at__gte": "2026-01-12", "at__lte": "2026-01-10"}
    response = auditor_client.get(CHANGELIST, query)
    assert listed(response) == []
    assert any("runs backwards, from 2026-01-12 to 2026-01-10" in str(message)
               for message in response.context["messages"])

    export = auditor_client.get(reverse("admin:curation_auditevent_export", args=["csv"]), query)
    assert export.status_code == 400
    assert "Nothing exported: the date range runs backwards" in export.content.decode()


def test_an_export_with_a_malformed_date_is_refused_not_widened(auditor_client, events):
    export = auditor_client.get(reverse("admin:curation_auditevent_export", args=["jsonl"]),
                                {"at__gte": "garbage", "actor_name": "alice"})
    assert export.status_code == 400
    assert "Nothing exported: “garbage” is not a date of the form YYYY-MM-DD." in export.content.decode()
    # The refusal leaves no warning behind for the next page.
    assert not list(auditor_client.get(CHANGELIST).context["messages"])


def test_history_on_an_audit_event_opens_its_servers_events(auditor_client, events):
    html = auditor_client.get(reverse("admin:curation_auditevent_change", args=[events[0].pk])).content.decode()
    assert f'<a href="{CHANGELIST}?server_name=io.github.acme%2Fone" class="historylink">' in html
    assert reverse("admin:curation_auditevent_history", args=[events[0].pk]) not in html
    serverless = event(datetime(2026, 1, 10, tzinfo=timezone.utc), action=AuditAction.POLICY_CREATED,
                       server_name="")
    html = auditor_client.get(reverse("admin:curation_auditevent_change", args=[serverless.pk])).content.decode()
    assert "historylink" not in html


# --- policies ---------------------------------------------------------------------------------

def test_policy_add_change_delete_are_audited_with_the_curators_reason(curator_client, curator):
    add = curator_client.post(reverse("admin:curation_policy_add"), {
        "name": "acme", "priority": 10, "enabled": "on", "effect": "approve", "name_glob": "io.github.acme/*",
        "registry_type": "npm", "identifier_glob": "", "remote_host": "", "reason": "SEC-10: acme is a vendor"})
    assert add.status_code == 302
    policy = Policy.objects.get(name="acme")
    created = AuditEvent.objects.get(action=AuditAction.POLICY_CREATED)
    assert (created.actor_id, created.source, created.after["name_glob"], created.reason) == (
        curator.pk, AuditSource.ADMIN, "io.github.acme/*", "SEC-10: acme is a vendor")

    change = curator_client.post(reverse("admin:curation_policy_change", args=[policy.pk]), {
        "name": "acme", "priority": 10, "enabled": "on", "effect": "block", "name_glob": "io.github.acme/*",
        "registry_type": "npm", "identifier_glob": "", "remote_host": "", "reason": "SEC-11: acme breached"})
    assert change.status_code == 302
    updated = AuditEvent.objects.get(action=AuditAction.POLICY_UPDATED)
    assert (updated.before["effect"], updated.after["effect"], updated.reason) == (
        "approve", "block", "SEC-11: acme breached")

    delete_url = reverse("admin:curation_policy_delete", args=[policy.pk])
    confirmation = curator_client.get(delete_url)
    assert confirmation.status_code == 200 and 'name="reason"' in confirmation.content.decode()
    delete = curator_client.post(delete_url, {"reason": "SEC-12: acme sold"}, follow=True)
    assert delete.redirect_chain[-1][0] == reverse("admin:curation_policy_changelist")
    assert not Policy.objects.exists()
    deleted = AuditEvent.objects.get(action=AuditAction.POLICY_DELETED)
    assert (deleted.before["name"], deleted.reason, deleted.actor_id) == ("acme", "SEC-12: acme sold", curator.pk)
    assert LogEntry.objects.filter(action_flag=DELETION, object_repr="acme").exists()  # Django's own history


def test_policy_forms_require_a_reason_and_keep_the_input(curator_client):
    data = {"name": "acme", "priority": 10, "enabled": "on", "effect": "approve", "name_glob": "io.github.acme/*",
            "registry_type": "npm", "identifier_glob": "", "remote_host": "mcp.acme.com"}
    add = curator_client.post(reverse("admin:curation_policy_add"), {**data, "reason": "  "})
    assert add.status_code == 200
    form = add.context["adminform"].form
    assert form.errors["reason"] and form["remote_host"].value() == "mcp.acme.com"
    assert not Policy.objects.exists()

    curator_client.post(reverse("admin:curation_policy_add"), {**data, "reason": "r"})
    policy = Policy.objects.get()
    change = curator_client.post(reverse("admin:curation_policy_change", args=[policy.pk]),
                                 {**data, "effect": "block", "reason": ""})
    assert change.status_code == 200 and change.context["adminform"].form.errors["reason"]
    delete = curator_client.post(reverse("admin:curation_policy_delete", args=[policy.pk]), {"post": "yes"})
    assert delete.status_code == 200 and delete.context["form"].errors["reason"]
    policy.refresh_from_db()
    assert policy.effect == "approve"
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [AuditAction.POLICY_CREATED]


def test_policy_bulk_delete_asks_for_a_reason_and_audits_each_rule(curator_client):
    for name in ("one", "two"):
        curator_client.post(reverse("admin:curation_policy_add"), {
            "name": name, "priority": 100, "effect": "block", "name_glob": f"io.github.{name}/*", "reason": "r"})
    assert Policy.objects.count() == 2
    changelist = reverse("admin:curation_policy_changelist")
    actions = dict(curator_client.get(changelist).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions and "delete_selected_rules" in actions
    selection = {"action": "delete_selected_rules", "index": 0,
                 "_selected_action": list(Policy.objects.values_list("pk", flat=True))}

    intermediate = curator_client.post(changelist, selection)
    assert intermediate.status_code == 200 and "io.github.one/*" not in intermediate.content.decode()
    assert "one" in intermediate.content.decode() and 'name="reason"' in intermediate.content.decode()
    assert curator_client.post(changelist, {**selection, "confirm": "yes", "reason": ""}).context["form"].errors
    assert Policy.objects.count() == 2

    response = curator_client.post(changelist, {**selection, "confirm": "yes", "reason": "SEC-20: cleanup"})
    assert response.status_code == 302
    assert not Policy.objects.exists()
    assert list(AuditEvent.objects.filter(action=AuditAction.POLICY_DELETED).values_list("reason", flat=True)) \
        == ["SEC-20: cleanup"] * 2


def test_a_policy_edit_from_a_form_opened_before_another_edit_is_refused_not_lost(curator_client):
    policy = Policy.objects.create(name="acme", priority=10, effect="approve", name_glob="io.github.acme/*")
    url = reverse("admin:curation_policy_change", args=[policy.pk])
    other_client = logged_in(make_user("dave", group=CURATORS))
    carol_form, dave_form = (client.get(url).context["adminform"].form for client in (curator_client, other_client))

    def save(client, form, reason, **changes):
        fields = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
        return client.post(url, {**fields, **changes, "reason": reason})

    assert save(curator_client, carol_form, "SEC-11: acme breached", effect="block").status_code == 302
    response = save(other_client, dave_form, "SEC-12: run it later", priority=20)

    assert response.status_code == 200
    assert "Nothing was saved" in response.content.decode()
    policy.refresh_from_db()
    assert (policy.effect, policy.priority) == ("block", 10)  # the block is not silently undone
    assert response.context["adminform"].form["priority"].value() == "20"  # the input is kept
    assert AuditEvent.objects.filter(action=AuditAction.POLICY_UPDATED).count() == 1
    # Saved again once seen, it replaces the newer rule on purpose.
    assert save(other_client, response.context["adminform"].form, "SEC-12: run it later").status_code == 302
    policy.refresh_from_db()
    assert (policy.effect, policy.priority) == ("approve", 20)


def test_policy_form_errors_are_shown_not_raised(curator_client):
    response = curator_client.post(reverse("admin:curation_policy_add"), {
        "name": "", "priority": "soon", "effect": "explode", "registry_type": "cobol"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"name", "priority", "effect", "registry_type"} <= set(errors)
    assert not AuditEvent.objects.exists()


def test_policy_admin_refuses_a_url_as_remote_host_and_keeps_the_input(curator_client):
    response = curator_client.post(reverse("admin:curation_policy_add"), {
        "name": "owner005", "priority": 10, "effect": "approve", "remote_host": "https://mcp.owner005.example.com",
        "reason": "vendor review"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter only the host name, without scheme, port or path: “mcp.owner005.example.com”." in html
    assert 'value="https://mcp.owner005.example.com"' in html
    assert not Policy.objects.exists()


def test_auditor_sees_policies_but_cannot_edit_them(auditor_client, curator_client):
    curator_client.post(reverse("admin:curation_policy_add"), {"name": "one", "priority": 1, "effect": "block",
                                                               "reason": "r"})
    policy = Policy.objects.get()
    assert auditor_client.get(reverse("admin:curation_policy_changelist")).status_code == 200
    assert auditor_client.get(reverse("admin:curation_policy_add")).status_code == 403
    assert auditor_client.post(reverse("admin:curation_policy_change", args=[policy.pk]),
                               {"name": "two", "priority": 1, "effect": "approve", "reason": "r"}).status_code == 403
    assert auditor_client.get(reverse("admin:curation_policy_delete", args=[policy.pk])).status_code == 403
    assert auditor_client.post(reverse("admin:curation_policy_delete", args=[policy.pk]),
                               {"reason": "r"}).status_code == 403
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
