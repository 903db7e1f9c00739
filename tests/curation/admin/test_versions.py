"""The mirrored versions' admin pages with their curation: decision, served state, filters, roles."""

import html
import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curation.choices import AuditAction, AuditSource
from curation.models import AuditEvent, VersionCuration, timestamp_text
from curation.services import listing_refresh
from mirror.choices import UpstreamStatus
from mirror.models import ServerVersion
from tests.curation.admin.support import decide, make_server

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:mirror_serverversion_changelist")

# case: (version decision, server decision, served)
EXPECTED = {
    "approved": ("approved", "approved", True),
    "blocked": ("blocked", "approved", False),
    "pending": ("pending", "approved", True),  # its server is approved for all versions
    "server blocked": ("approved", "blocked", False),
    "deleted upstream": ("approved", "approved", False),
    "undecided": ("pending", "pending", False),
}

ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r'<t[dh] class="field-(\w+)[^"]*"[^>]*>(.*?)</t[dh]>', re.S)
CHANGE_LINK = re.compile(r'href="/admin/mirror/serverversion/(\d+)/change/')
BADGE = re.compile(r"registry-badge-(\w+)")


@pytest.fixture
def cases(db):
    """{case: version}, each decided through the services as curators and the sync would."""
    reviewed = make_server("io.github.acme/tools", ("1.0.0", "1.1.0", "1.2.0"))
    decide(reviewed, "approved")
    approved, blocked, pending = (reviewed.versions.get(version=v) for v in ("1.0.0", "1.1.0", "1.2.0"))
    decide(reviewed, "approved", version=approved, reason="release review")
    decide(reviewed, "blocked", version=blocked, reason="CVE-2026-1 in 1.1.0")

    server_blocked = make_server("io.github.acme/server-blocked")
    decide(server_blocked, "approved", version=server_blocked.latest_version)
    decide(server_blocked, "blocked", reason="publisher compromised")

    deleted = make_server("io.github.acme/deleted")
    decide(deleted, "approved")
    decide(deleted, "approved", version=deleted.latest_version)
    # What a sync does when upstream deletes it: the status changes, then curation refreshes the projection.
    ServerVersion.objects.filter(pk=deleted.latest_version.pk).update(status=UpstreamStatus.DELETED)
    listing_refresh(server_ids=[deleted.pk])

    undecided = make_server("io.github.acme/undecided")
    return {"approved": approved, "blocked": blocked, "pending": pending,
            "server blocked": server_blocked.latest_version, "deleted upstream": deleted.latest_version,
            "undecided": undecided.latest_version}


def list_rows(response) -> dict[int, dict[str, str]]:
    """{version pk: {column: cell html}} of the version list as rendered."""
    rows = {}
    for row in ROW.findall(response.content.decode()):
        cells = dict(CELL.findall(row))
        if "server_name" not in cells:  # the header
            continue
        rows[int(CHANGE_LINK.search(cells["server_name"]).group(1))] = cells
    return rows


def shown_curation(cells: dict[str, str]) -> tuple[str, str, bool]:
    served = cells["served"]
    assert 'alt="True"' in served or 'alt="False"' in served
    return (BADGE.search(cells["version_decision"]).group(1), BADGE.search(cells["server_decision"]).group(1),
            'alt="True"' in served)


def listed_pks(response) -> set[int]:
    return {version.pk for version in response.context["cl"].result_list}


def curation_fieldset(response) -> dict[str, str]:
    """{field: rendered value} of the change page's Curation fieldset."""
    fieldset = next(fieldset for fieldset in response.context["adminform"] if fieldset.name == "Curation")
    return {field.field["name"]: str(field.contents()) for line in fieldset for field in line}


def change_url(version):
    return reverse("admin:mirror_serverversion_change", args=[version.pk])


def decide_url(version):
    return reverse("admin:mirror_server_version_decide", args=[version.server_id, version.pk])


# --- the list ---------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["curator_client", "auditor_client"])
def test_list_shows_each_versions_decision_its_servers_and_whether_it_is_served(request, cases, who):
    response = request.getfixturevalue(who).get(CHANGELIST)

    assert response.status_code == 200
    rows = list_rows(response)
    assert {case: shown_curation(rows[version.pk]) for case, version in cases.items()} == EXPECTED


@pytest.mark.parametrize(("query", "expected_cases"), [
    ({"curation_state": "approved"}, {"approved", "server blocked", "deleted upstream"}),
    ({"curation_state": "blocked"}, {"blocked"}),
    ({"curation_state": "pending"}, {"pending", "undecided"}),
    ({"served": "yes"}, {"approved", "pending"}),
    ({"served": "no"}, {"blocked", "server blocked", "deleted upstream", "undecided"}),
    ({"curation_state": "approved", "served": "no"}, {"server blocked", "deleted upstream"}),
    ({"curation_state": "bogus", "served": "maybe"}, set(EXPECTED)),
])
def test_filters_on_decision_and_served(curator_client, cases, query, expected_cases):
    response = curator_client.get(CHANGELIST, query)

    assert response.status_code == 200
    assert listed_pks(response) == {cases[case].pk for case in expected_cases}


def test_list_query_count_does_not_grow_with_the_number_of_versions(curator_client, django_assert_num_queries):
    def add_server(index, decision, versions=("1.0.0", "1.1.0")):
        server = make_server(f"io.github.bulk/server-{index:03d}", versions)
        if decision:
            decide(server, decision)
            decide(server, "blocked", version=server.latest_version)

    add_server(0, "approved", versions=("1.0.0",))
    curator_client.get(CHANGELIST)  # warm the per-process caches (content types) first
    with CaptureQueriesContext(connection) as one_row:
        assert len(curator_client.get(CHANGELIST).context["cl"].result_list) == 1

    for index in range(1, 31):
        add_server(index, ("approved", "blocked", None)[index % 3])
    with django_assert_num_queries(len(one_row)):
        response = curator_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 61


# --- the version page -------------------------------------------------------------------------

def test_version_page_shows_the_curation_fieldset(curator_client, cases):
    blocked = cases["blocked"]

    response = curator_client.get(change_url(blocked))

    assert response.status_code == 200
    assert [fieldset.name for fieldset in response.context["adminform"]][:2] == [None, "Curation"]
    curation = curation_fieldset(response)
    assert "registry-badge-blocked" in curation["version_decision"]
    assert curation["decision_reason"] == "CVE-2026-1 in 1.1.0"
    assert curation["decided_by"] == "cli"
    assert curation["decided_at"] == timestamp_text(VersionCuration.objects.get(version=blocked).decided_at)
    assert "registry-badge-approved" in curation["server_decision"]
    assert curation["server_version_policy"] == "All versions"
    assert 'alt="False"' in curation["served"]
    assert reverse("admin:mirror_server_change", args=[blocked.server_id]) in curation["server_curation_link"]
    for state in ("approved", "blocked", "pending"):
        assert f"{decide_url(blocked)}?state={state}" in curation["decide_links"]


@pytest.mark.parametrize("case", list(EXPECTED))
def test_version_page_shows_the_same_decision_and_served_state_as_the_list(curator_client, cases, case):
    curation = curation_fieldset(curator_client.get(change_url(cases[case])))
    version_decision, server_decision, served = EXPECTED[case]
    assert f"registry-badge-{version_decision}" in curation["version_decision"]
    assert f"registry-badge-{server_decision}" in curation["server_decision"]
    assert f'alt="{served}"' in curation["served"]


def test_an_undecided_version_page_says_nothing_was_decided(curator_client, cases):
    curation = curation_fieldset(curator_client.get(change_url(cases["undecided"])))
    assert [curation[field] for field in ("decision_reason", "decided_by", "decided_at")] == ["—"] * 3


@pytest.mark.parametrize("default, label", [("all", "All versions"), ("reviewed", "Reviewed versions only")])
def test_a_server_curation_never_touched_shows_the_default_version_policy(curator_client, settings, default, label):
    settings.REGISTRY_DEFAULT_VERSION_POLICY = default
    version = make_server("io.github.acme/untouched").versions.get()

    curation = curation_fieldset(curator_client.get(change_url(version)))
    server_page = curator_client.get(reverse("admin:mirror_server_change", args=[version.server_id]))

    assert curation["server_version_policy"] == label
    assert f"Version policy: {label}" in server_page.content.decode()
    assert server_page.context["policy_form"].initial == {"policy": default}


def test_a_curator_decides_through_the_linked_form_and_the_version_page_shows_it(curator_client, curator, cases):
    version = cases["pending"]
    links = dict((label, html.unescape(href)) for href, label in re.findall(
        r'<a href="([^"]+)">(Approve…|Block…|Reset…)</a>', curator_client.get(change_url(version)).content.decode()))
    form_page = curator_client.get(links["Block…"])
    assert form_page.status_code == 200
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', form_page.content.decode()).group(1))

    decided = curator_client.post(action, {"state": "blocked", "reason": "INC-7: leaks tokens",
                                           "expected_state": "pending"})

    assert decided.status_code == 302 and decided["Location"] == change_url(version)

    event = AuditEvent.objects.get(action=AuditAction.VERSION_BLOCKED, version=version.version,
                                   server_name=version.server.name)
    assert (event.actor_id, event.source, event.reason) == (curator.pk, AuditSource.ADMIN, "INC-7: leaks tokens")
    curation = curation_fieldset(curator_client.get(change_url(version)))
    assert "registry-badge-blocked" in curation["version_decision"]
    assert (curation["decision_reason"], curation["decided_by"]) == ("INC-7: leaks tokens", "carol")
    assert 'alt="False"' in curation["served"]


@pytest.mark.parametrize("next_url", ["https://evil.example/admin/", "//evil.example/", ""])
def test_a_decision_returns_to_the_server_page_unless_next_points_into_the_site(curator_client, cases, next_url):
    version = cases["pending"]

    decided = curator_client.post(f"{decide_url(version)}?{urlencode({'next': next_url})}",
                                  {"state": "blocked", "reason": "INC-8", "expected_state": "pending"})

    assert decided.status_code == 302
    assert decided["Location"] == reverse("admin:mirror_server_change", args=[version.server_id])


# --- roles ------------------------------------------------------------------------------------

def test_an_auditor_sees_the_decisions_but_cannot_act(auditor_client, cases):
    version = cases["pending"]

    page = auditor_client.get(change_url(version))

    assert page.status_code == 200
    curation = curation_fieldset(page)
    assert "registry-badge-pending" in curation["version_decision"]
    assert "decide_links" not in curation
    html = page.content.decode()
    assert decide_url(version) not in html
    assert 'name="_save"' not in html
    assert auditor_client.post(change_url(version), {}).status_code == 403
    assert auditor_client.get(decide_url(version)).status_code == 403
    assert auditor_client.post(decide_url(version), {"state": "blocked", "reason": "x"}).status_code == 403
    listing = auditor_client.get(CHANGELIST)
    assert listing.status_code == 200 and listing.context.get("action_form") is None
    assert not VersionCuration.objects.filter(version=version).exclude(state="pending").exists()
    assert not AuditEvent.objects.filter(actor_name="audrey").exists()


def test_history_on_a_version_page_is_that_versions_audit_trail(auditor_client, cases):
    version = cases["blocked"]
    page = auditor_client.get(change_url(version)).content.decode()
    history = html.unescape(re.search(r'<a href="([^"]+)" class="historylink">History</a>', page).group(1))

    trail = auditor_client.get(history)

    events = list(trail.context["cl"].result_list)
    assert events and {(event.server_name, event.version) for event in events} == {
        (version.server.name, version.version)}
    assert AuditEvent.objects.filter(server_name=version.server.name).exclude(version=version.version).exists()
