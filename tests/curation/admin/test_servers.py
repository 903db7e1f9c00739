"""The curators' Server admin: list, filters, search, bulk decisions and the roles around them."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from curation.choices import AuditAction, AuditSource, CurationState
from curation.models import AuditEvent, ServerCuration, VersionCuration
from mirror.models import Server, ServerVersion
from tests.curation.admin.support import decide, logged_in, make_server, make_user
from tests.factories import ServerVersionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:mirror_server_changelist")


def listed_names(response):
    return sorted(server.name for server in response.context["cl"].result_list)


def state(server):
    curation = ServerCuration.objects.filter(server=server).first()
    return curation.state if curation else CurationState.PENDING


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


# --- access -----------------------------------------------------------------------------------

def test_anonymous_and_non_staff_are_sent_to_the_login_page(client, db):
    server = make_server("io.github.acme/one")
    non_staff = logged_in(make_user("nora", is_staff=False))
    urls = [CHANGELIST, reverse("admin:mirror_server_change", args=[server.pk]),
            reverse("admin:mirror_server_decide", args=[server.pk]),
            reverse("admin:mirror_server_review_queue"), reverse("admin:index")]
    for who in (client, non_staff):
        for url in urls:
            response = who.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url
        response = who.post(reverse("admin:mirror_server_decide", args=[server.pk]),
                            {"state": "approved", "reason": "sneaky"})
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert state(server) == CurationState.PENDING


def test_staff_without_curation_permissions_cannot_see_servers(staff_client):
    assert staff_client.get(CHANGELIST).status_code == 403


# --- the list ---------------------------------------------------------------------------------

def test_changelist_shows_the_curator_columns(curator_client):
    server = make_server("io.github.acme/weather", ("1.0.0", "1.2.0"), title="Weather Tools")
    decide(server, "approved")

    response = curator_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "io.github.acme/weather" in html
    assert "Weather Tools" in html
    assert "1.2.0" in html
    assert "registry-badge-approved" in html and "registry-badge-active" in html
    assert 'href="https://github.com/weather/repo"' in html


def test_changelist_query_count_does_not_grow_with_the_number_of_servers(curator_client,
                                                                         django_assert_max_num_queries):
    def changelist_queries(count):
        with CaptureQueriesContext(connection) as queries:
            response = curator_client.get(CHANGELIST)
        assert len(response.context["cl"].result_list) == count
        return len(queries)

    def add_servers(start, stop):
        for index in range(start, stop):
            server = make_server(f"io.github.bulk/server-{index:03d}", ("1.0.0", "1.1.0"))
            decide(server, "approved" if index % 2 else "pending")

    add_servers(0, 3)
    few = changelist_queries(3)
    add_servers(3, 45)
    with django_assert_max_num_queries(few):
        curator_client.get(CHANGELIST)
    assert changelist_queries(45) == few


def test_change_view_query_count_does_not_grow_with_the_number_of_versions(curator_client):
    def change_view_queries(server):
        with CaptureQueriesContext(connection) as queries:
            response = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk]))
        assert response.status_code == 200
        return len(queries)

    small = make_server("io.github.acme/small", ("1.0.0", "1.1.0"))
    large = make_server("io.github.acme/large", tuple(f"1.{minor}.0" for minor in range(30)))
    for server in (small, large):
        decide(server, "approved")
        for version in server.versions.all()[:2]:
            decide(server, "blocked", version=version)
    change_view_queries(small)  # warm the per-process caches (content types) first
    assert change_view_queries(large) == change_view_queries(small)


def test_filters_select_the_right_servers(curator_client):
    approved = make_server("io.github.acme/approved")
    blocked = make_server("io.github.acme/blocked")
    make_server("io.github.acme/pending")
    decide(approved, "approved")
    decide(blocked, "blocked")
    deprecated = make_server("io.github.acme/deprecated", status="deprecated")
    pypi = make_server("io.github.acme/pypi", packages=[{"registryType": "pypi", "identifier": "acme-mcp",
                                                         "version": "1.0.0", "transport": {"type": "stdio"}}])
    remote = make_server("io.github.acme/remote", packages=[],
                         remotes=[{"type": "streamable-http", "url": "https://mcp.acme.com/mcp"}])
    missing = make_server("io.github.acme/missing")
    Server.objects.filter(pk=missing.pk).update(missing_upstream_since=timezone.now())
    ServerVersion.objects.update(changed_at=timezone.now() - timedelta(days=30))
    ServerVersion.objects.filter(server=pypi).update(changed_at=timezone.now() - timedelta(days=2))
    ServerCuration.objects.filter(server__in=[approved, blocked]).update(
        decided_at=timezone.now() - timedelta(days=30))

    def names(query):
        response = curator_client.get(CHANGELIST, query)
        assert response.status_code == 200
        return listed_names(response)

    everything = sorted(Server.objects.values_list("name", flat=True))
    assert names({"curation_state": "approved"}) == ["io.github.acme/approved"]
    assert names({"curation_state": "blocked"}) == ["io.github.acme/blocked"]
    assert names({"curation_state": "pending"}) == sorted(set(everything) - {approved.name, blocked.name})
    assert names({"status": "deprecated"}) == [deprecated.name]
    assert names({"package_type": "pypi"}) == [pypi.name]
    assert "io.github.acme/pypi" not in names({"package_type": "npm"})
    assert remote.name not in names({"package_type": "npm"})
    assert names({"deployment": "remote"}) == [remote.name]
    assert names({"deployment": "local"}) == sorted(set(everything) - {remote.name})
    assert names({"missing_upstream": "yes"}) == [missing.name]
    assert missing.name not in names({"missing_upstream": "no"})
    assert names({"changed": "7d"}) == [pypi.name]
    # Combined filters narrow further.
    assert names({"curation_state": "pending", "package_type": "pypi"}) == [pypi.name]


def test_unknown_filter_values_are_ignored_not_an_error(curator_client):
    make_server("io.github.acme/one")
    for query in ({"curation_state": "bogus"}, {"package_type": "cobol"}, {"deployment": "mars"},
                  {"status": "<x>"}, {"changed": "forever"}, {"missing_upstream": "maybe"}):
        response = curator_client.get(CHANGELIST, query)
        assert response.status_code == 200, query
        assert listed_names(response) == ["io.github.acme/one"]


def test_search_covers_name_title_and_description(curator_client):
    make_server("io.github.acme/alpha", title="Calendar Helper", description="Reads your agenda")
    make_server("io.github.other/beta", title="Files", description="Browse shared drives")

    def search(term):
        return listed_names(curator_client.get(CHANGELIST, {"q": term}))

    assert search("alpha") == ["io.github.acme/alpha"]
    assert search("calendar") == ["io.github.acme/alpha"]
    assert search("DRIVES") == ["io.github.other/beta"]
    assert search("io.github") == ["io.github.acme/alpha", "io.github.other/beta"]
    assert search("agenda files") == []


# --- bulk actions -----------------------------------------------------------------------------

@pytest.mark.parametrize(("action", "target", "action_code"), [
    ("approve_selected", CurationState.APPROVED, AuditAction.SERVER_APPROVED),
    ("block_selected", CurationState.BLOCKED, AuditAction.SERVER_BLOCKED),
    ("reset_selected", CurationState.PENDING, AuditAction.SERVER_RESET),
])
def test_bulk_action_asks_for_a_reason_then_reports_how_many_changed(curator_client, curator, action, target,
                                                                     action_code):
    servers = [make_server(f"io.github.acme/s{index}") for index in range(3)]
    already = servers[0]
    decide(already, target if target != CurationState.PENDING else "approved")
    if target == CurationState.PENDING:
        decide(servers[1], "blocked")  # s0 approved, s1 blocked, s2 never decided: two change
    selection = {"action": action, "_selected_action": [s.pk for s in servers], "index": 0}

    intermediate = curator_client.post(CHANGELIST, selection)
    assert intermediate.status_code == 200
    assert "reason" in intermediate.context["form"].fields
    for server in servers:
        assert server.name in intermediate.content.decode()

    no_reason = curator_client.post(CHANGELIST, {**selection, "confirm": "yes", "reason": "  "})
    assert no_reason.status_code == 200
    assert no_reason.context["form"].errors["reason"]

    events_before = AuditEvent.objects.filter(action=action_code).count()
    done = curator_client.post(CHANGELIST, {**selection, "confirm": "yes", "reason": "TICKET-42 reviewed"},
                               follow=True)

    assert done.status_code == 200
    expected_changed = 2
    if target == CurationState.PENDING:
        assert [state(s) for s in servers] == [CurationState.PENDING] * 3
    else:
        assert [state(s) for s in servers] == [target] * 3
    assert any(message.startswith(f"{expected_changed} of 3 selected servers") for message in messages_of(done))
    new_events = AuditEvent.objects.filter(action=action_code).exclude(actor_name="cli")
    assert AuditEvent.objects.filter(action=action_code).count() - events_before == expected_changed
    assert {(e.actor_id, e.actor_name, e.source, e.reason) for e in new_events} == {
        (curator.pk, "carol", AuditSource.ADMIN, "TICKET-42 reviewed")}


def test_a_bulk_decision_from_a_page_shown_before_another_decision_is_refused_not_applied(curator_client):
    servers = [make_server(f"io.github.acme/s{index}") for index in range(3)]
    selection = {"action": "approve_selected", "_selected_action": [s.pk for s in servers], "index": 0}
    page = curator_client.post(CHANGELIST, selection)
    assert "io.github.acme/s1 (now pending)" in page.content.decode()
    decide(servers[1], "blocked")  # another curator, while this page is open

    def confirm(page):
        return curator_client.post(CHANGELIST, {**selection, "confirm": "yes", "reason": "SEC-7 reviewed",
                                                "shown_at": re.search(r'name="shown_at" value="([^"]+)"',
                                                                      page.content.decode())[1]})

    refused = confirm(page)

    assert refused.status_code == 200
    assert "Nothing was changed: io.github.acme/s1 was decided by someone else" in refused.content.decode()
    assert [state(s) for s in servers] == [CurationState.PENDING, CurationState.BLOCKED, CurationState.PENDING]
    assert refused.context["form"]["reason"].value() == "SEC-7 reviewed"
    # Confirmed again from the page that shows it, the decision is taken on purpose.
    assert confirm(refused).status_code == 302
    assert [state(s) for s in servers] == [CurationState.APPROVED] * 3


@pytest.mark.parametrize("changelist, action", [
    (CHANGELIST, "approve_selected"),
    (reverse("admin:curation_policy_changelist"), "delete_selected_rules"),
    (reverse("admin:curation_auditevent_changelist"), "export_csv"),
])
def test_an_action_posted_with_a_selection_that_is_not_a_row_says_so(curator_client, changelist, action):
    make_server("io.github.acme/one")
    response = curator_client.post(changelist, {"action": action, "_selected_action": ["abc"], "index": 0},
                                   follow=True)
    assert response.status_code == 200
    assert "The selection holds something that is not a row of this list" in messages_of(response)[0]
    assert ServerCuration.objects.filter(state=CurationState.APPROVED).count() == 0


def test_bulk_action_across_all_filtered_results(curator_client):
    for index in range(3):
        make_server(f"io.github.acme/s{index}")
    make_server("io.github.other/untouched")
    query = "?q=acme"
    # As the browser sends it: the visible page's boxes ticked, plus "select all N".
    visible = Server.objects.filter(name="io.github.acme/s0").values_list("pk", flat=True)
    selection = {"action": "block_selected", "select_across": "1", "index": 0, "_selected_action": list(visible)}
    intermediate = curator_client.post(CHANGELIST + query, selection)
    assert intermediate.context["total"] == 3
    assert 'name="select_across" value="1"' in intermediate.content.decode()
    response = curator_client.post(CHANGELIST + query, {**selection, "confirm": "yes",
                                                        "reason": "acme is compromised"}, follow=True)
    assert response.status_code == 200, messages_of(response)
    assert any(message.startswith("3 of 3 selected servers") for message in messages_of(response)), \
        messages_of(response)
    assert state(Server.objects.get(name="io.github.other/untouched")) == CurationState.PENDING
    assert ServerCuration.objects.filter(state=CurationState.BLOCKED).count() == 3


def test_decision_actions_are_hidden_and_refused_without_the_decide_permission(auditor_client, curator_client):
    server = make_server("io.github.acme/one")

    curator_actions = dict(curator_client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert {"approve_selected", "block_selected", "reset_selected"} <= set(curator_actions)

    response = auditor_client.get(CHANGELIST)
    assert response.status_code == 200
    auditor_actions = set(dict(response.context["action_form"].fields["action"].choices)) \
        if response.context.get("action_form") else set()
    assert not auditor_actions & {"approve_selected", "block_selected", "reset_selected"}

    forced = auditor_client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [server.pk],
                                              "index": 0, "confirm": "yes", "reason": "let me in"})
    assert forced.status_code in (200, 302)
    assert state(server) == CurationState.PENDING
    assert not AuditEvent.objects.filter(actor_name="audrey").exists()


# --- per-server and per-version forms ---------------------------------------------------------

def test_change_view_shows_upstream_json_versions_history_and_curation_forms(curator_client):
    server = make_server("io.github.acme/detail", ("1.0.0", "2.0.0"), title="Detail")
    decide(server, "approved", reason="first review")

    response = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "&quot;name&quot;: &quot;io.github.acme/detail&quot;" in html  # pretty-printed, escaped
    assert reverse("admin:mirror_server_decide", args=[server.pk]) in html
    assert reverse("admin:mirror_server_version_policy", args=[server.pk]) in html
    assert reverse("admin:mirror_server_meta", args=[server.pk]) in html
    for version in server.versions.all():
        assert reverse("admin:mirror_server_version_decide", args=[server.pk, version.pk]) in html
    assert "first review" in html
    assert 'id="curation-audit"' in html


def test_change_view_is_read_only_for_auditors(auditor_client):
    server = make_server("io.github.acme/detail")
    response = auditor_client.get(reverse("admin:mirror_server_change", args=[server.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("admin:mirror_server_decide", args=[server.pk]) not in html
    assert reverse("admin:mirror_server_meta", args=[server.pk]) not in html
    assert 'id="curation-audit"' in html
    assert 'name="_save"' not in html


def test_server_decision_form(curator_client, curator):
    server = make_server("io.github.acme/one")
    url = reverse("admin:mirror_server_decide", args=[server.pk])

    assert curator_client.get(url, {"state": "blocked"}).status_code == 200
    missing_reason = curator_client.post(url, {"state": "blocked", "reason": ""})
    assert missing_reason.status_code == 200 and missing_reason.context["form"].errors["reason"]
    bad_state = curator_client.post(url, {"state": "deleted", "reason": "x"})
    assert bad_state.status_code == 200 and bad_state.context["form"].errors["state"]
    assert state(server) == CurationState.PENDING

    response = curator_client.post(url, {"state": "blocked", "reason": "leaks tokens"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:mirror_server_change", args=[server.pk])
    assert state(server) == CurationState.BLOCKED
    assert f"Server {server.name} is now blocked." in messages_of(response)
    event = AuditEvent.objects.get(action=AuditAction.SERVER_BLOCKED)
    assert (event.actor_id, event.source, event.reason, event.server_name) == (
        curator.pk, AuditSource.ADMIN, "leaks tokens", server.name)

    again = curator_client.post(url, {"state": "blocked", "reason": "still"}, follow=True)
    assert f"Server {server.name} already was blocked; nothing changed." in messages_of(again)
    assert AuditEvent.objects.filter(action=AuditAction.SERVER_BLOCKED).count() == 1


@pytest.mark.parametrize(("decision", "action_code"), [
    ("approved", AuditAction.VERSION_APPROVED),
    ("blocked", AuditAction.VERSION_BLOCKED),
    ("pending", AuditAction.VERSION_RESET),
])
def test_per_version_decisions(curator_client, decision, action_code):
    server = make_server("io.github.acme/versions", ("1.0.0", "2.0.0"))
    version = server.versions.get(version="2.0.0")
    if decision == "pending":
        decide(server, "blocked", version=version)
    url = reverse("admin:mirror_server_version_decide", args=[server.pk, version.pk])

    page = curator_client.get(url, {"state": decision})
    assert page.status_code == 200
    assert "2.0.0" in page.content.decode()

    response = curator_client.post(url, {"state": decision, "reason": "release review"}, follow=True)

    assert response.status_code == 200
    version.refresh_from_db()
    assert version.curation.state == decision
    other = VersionCuration.objects.filter(version__server=server, version__version="1.0.0").first()
    assert other is None or other.state == CurationState.PENDING
    event = AuditEvent.objects.filter(action=action_code).latest("at")
    assert (event.server_name, event.version, event.reason) == (server.name, "2.0.0", "release review")


def test_version_must_belong_to_the_server(curator_client):
    one = make_server("io.github.acme/one")
    other = make_server("io.github.acme/other")
    url = reverse("admin:mirror_server_version_decide", args=[one.pk, other.latest_version.pk])
    assert curator_client.get(url).status_code == 404
    assert curator_client.post(url, {"state": "approved", "reason": "x"}).status_code == 404


def test_decision_endpoints_refuse_staff_and_auditors_with_403(staff_client, auditor_client):
    server = make_server("io.github.acme/one")
    version = server.latest_version
    endpoints = [
        (reverse("admin:mirror_server_decide", args=[server.pk]), {"state": "approved", "reason": "x"}),
        (reverse("admin:mirror_server_version_decide", args=[server.pk, version.pk]),
         {"state": "blocked", "reason": "x"}),
        (reverse("admin:mirror_server_version_policy", args=[server.pk]), {"policy": "reviewed", "reason": "x"}),
        (reverse("admin:mirror_server_meta", args=[server.pk]), {"meta": '{"team": "x"}'}),
        (reverse("admin:mirror_server_version_meta", args=[server.pk, version.pk]), {"meta": '{"team": "x"}'}),
    ]
    for who in (staff_client, auditor_client):
        for url, data in endpoints:
            assert who.get(url).status_code == 403, url
            assert who.post(url, data).status_code == 403, url
    assert not AuditEvent.objects.exists()
    assert state(server) == CurationState.PENDING


def test_decision_posts_need_a_csrf_token(curator):
    server = make_server("io.github.acme/one")
    client = logged_in(curator)
    client.handler.enforce_csrf_checks = True
    response = client.post(reverse("admin:mirror_server_decide", args=[server.pk]),
                           {"state": "approved", "reason": "no token"})
    assert response.status_code == 403
    assert state(server) == CurationState.PENDING


def test_version_policy_change(curator_client):
    server = make_server("io.github.acme/one")
    decide(server, "approved")
    url = reverse("admin:mirror_server_version_policy", args=[server.pk])

    assert curator_client.get(url).status_code == 200
    no_reason = curator_client.post(url, {"policy": "reviewed", "reason": ""})
    assert no_reason.status_code == 200 and no_reason.context["form"].errors["reason"]
    bogus = curator_client.post(url, {"policy": "some", "reason": "x"})
    assert bogus.status_code == 200 and bogus.context["form"].errors["policy"]

    response = curator_client.post(url, {"policy": "reviewed", "reason": "sensitive data"}, follow=True)

    assert response.status_code == 200
    assert ServerCuration.objects.get(server=server).version_policy == "reviewed"
    event = AuditEvent.objects.get(action=AuditAction.VERSION_POLICY_CHANGED)
    assert event.reason == "sensitive data"


def test_repository_link_only_for_http_urls(curator_client):
    make_server("io.github.acme/evil-link", repository={"url": "javascript:alert(document.cookie)",
                                                        "source": "github"})
    server = make_server("io.github.acme/good-link", repository={"url": "https://example.com/a?b=1&c=\"x\"",
                                                                 "source": "github"})
    changelist = curator_client.get(CHANGELIST).content.decode()
    detail = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk])).content.decode()
    for html in (changelist,):
        assert 'href="javascript:' not in html
    assert 'href="https://example.com/a?b=1&amp;c=&quot;x&quot;"' in changelist
    assert 'href="https://example.com/a?b=1&amp;c=&quot;x&quot;"' in detail


def test_versions_inline_lists_each_version_with_its_state(curator_client):
    server = make_server("io.github.acme/inline", ("1.0.0", "1.1.0", "2.0.0"))
    decide(server, "blocked", version=server.versions.get(version="1.1.0"))
    ServerVersionFactory(server=make_server("io.github.acme/unrelated").latest_version.server, version="9.9.9")

    response = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk]))

    formset = response.context["inline_admin_formsets"][0]
    versions = [form.original.version for form in formset]
    assert versions == ["2.0.0", "1.1.0", "1.0.0"]  # same publication time: newest row first
    assert "9.9.9" not in versions
    assert "registry-badge-blocked" in response.content.decode()


# --- decisions from a page opened before someone else decided ---------------------------------

def test_a_decision_from_a_page_opened_before_another_decision_is_refused_with_who_when_and_why(curator_client):
    server = make_server("io.github.acme/one")
    page = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk])).content.decode()
    assert '<input type="hidden" name="expected_state" value="pending"' in page
    decide(server, "blocked", reason="Malware found, INC-42")  # meanwhile, someone else blocks it
    url = reverse("admin:mirror_server_decide", args=[server.pk])

    response = curator_client.post(url, {"state": "approved", "reason": "Looks fine to me",
                                         "expected_state": "pending"})

    assert response.status_code == 200
    assert state(server) == CurationState.BLOCKED
    assert not AuditEvent.objects.filter(action=AuditAction.SERVER_APPROVED).exists()
    form = response.context["form"]
    error = " ".join(form.non_field_errors())
    decided_at = ServerCuration.objects.get(server=server).decided_at
    assert "Nothing was changed" in error and "cli set it to blocked" in error
    assert f"{timezone.localtime(decided_at):%Y-%m-%d %H:%M:%S} UTC" in error
    assert "Malware found, INC-42" in error
    html = response.content.decode()
    assert "Looks fine to me</textarea>" in html  # the curator's input is kept
    assert "registry-badge-blocked" in html  # and the current decision is shown
    # The form now expects what the curator was just shown: submitting it again is a deliberate override.
    assert '<input type="hidden" name="expected_state" value="blocked"' in html
    again = curator_client.post(url, {"state": "approved", "reason": "INC-42 was a false positive",
                                      "expected_state": "blocked"})
    assert again.status_code == 302
    assert state(server) == CurationState.APPROVED


def test_a_version_decision_from_a_stale_page_is_refused(curator_client):
    server = make_server("io.github.acme/one", ("1.0.0", "2.0.0"))
    version = server.versions.get(version="2.0.0")
    url = reverse("admin:mirror_server_version_decide", args=[server.pk, version.pk])
    page = curator_client.get(url, {"state": "approved"}).content.decode()
    assert '<input type="hidden" name="expected_state" value="pending"' in page
    decide(server, "blocked", version=version, reason="CVE-2026-9")

    response = curator_client.post(url, {"state": "approved", "reason": "release review",
                                         "expected_state": "pending"})

    assert response.status_code == 200
    assert "CVE-2026-9" in " ".join(response.context["form"].non_field_errors())
    assert VersionCuration.objects.get(version=version).state == CurationState.BLOCKED


def test_version_decision_messages_start_with_a_word(curator_client):
    server = make_server("io.github.acme/one", ("1.0.0", "2.0.0"))
    version = server.versions.get(version="2.0.0")
    url = reverse("admin:mirror_server_version_decide", args=[server.pk, version.pk])
    response = curator_client.post(url, {"state": "blocked", "reason": "CVE"}, follow=True)
    assert "Version 2.0.0 of io.github.acme/one is now blocked." in messages_of(response)
    policy = curator_client.post(reverse("admin:mirror_server_version_policy", args=[server.pk]),
                                 {"policy": "reviewed", "reason": "r"}, follow=True)
    assert "Version policy of io.github.acme/one is now “Reviewed versions only”." in messages_of(policy)


def test_history_on_a_server_page_opens_its_audit_trail(curator_client):
    server = make_server("io.github.acme/one")
    html = curator_client.get(reverse("admin:mirror_server_change", args=[server.pk])).content.decode()
    audit = reverse("admin:curation_auditevent_changelist") + "?server_name=io.github.acme%2Fone"
    assert f'<a href="{audit}" class="historylink">History</a>' in html
    assert reverse("admin:mirror_server_history", args=[server.pk]) not in html
