"""The served rule, exhaustively: every upstream status × server state × version policy × version state."""

import itertools

import pytest

from curation.choices import CurationState, PolicyEffect, VersionPolicy
from curation.models import Listing, Policy, ServerCuration, VersionCuration
from curation.selectors import served_versions
from curation.services import listing_refresh
from mirror.choices import UpstreamStatus
from tests.curation.curation_support import mirrored, status_change, sync_page
from tests.factories import ServerFactory, ServerVersionFactory

pytestmark = pytest.mark.django_db

NO_ROW = None  # no curation row at all: curation never saw it
STATUSES = list(UpstreamStatus.values)
SERVER_STATES = [NO_ROW, *CurationState.values]
POLICIES = list(VersionPolicy.values)
VERSION_STATES = [NO_ROW, *CurationState.values]


def expected_served(status, server_state, policy, version_state) -> bool:
    """The issue's sentence, clause by clause."""
    if status != "active":  # upstream status is active
        return False
    if server_state != "approved":  # its server is approved
        return False
    if version_state == "blocked":  # the version is not blocked
        return False
    return policy == "all" or version_state == "approved"  # the version policy admits it


CASES = list(itertools.product(STATUSES, SERVER_STATES, POLICIES, VERSION_STATES))


def test_the_table_covers_every_combination():
    assert len(CASES) == 3 * 4 * 2 * 4
    # Spot checks that do not go through expected_served().
    assert expected_served("active", "approved", "all", None)
    assert expected_served("active", "approved", "reviewed", "approved")
    assert not expected_served("active", "approved", "reviewed", "pending")
    assert not expected_served("deprecated", "approved", "all", "approved")
    assert not expected_served("active", None, "all", "approved")


def test_served_rule_truth_table_in_the_selector_and_the_projection():
    versions = {}
    for index, (status, server_state, policy, version_state) in enumerate(CASES):
        version = ServerVersionFactory(server=ServerFactory(name=f"io.github.table/case-{index:03d}"), status=status)
        if server_state is not NO_ROW:
            ServerCuration.objects.create(server=version.server, state=server_state, version_policy=policy)
        if version_state is not NO_ROW:
            VersionCuration.objects.create(version=version, state=version_state)
        versions[version.pk] = (status, server_state, policy, version_state)

    listing_refresh(server_ids=ServerVersionFactory._meta.model.objects.values_list("server_id", flat=True))

    selected = set(served_versions().values_list("pk", flat=True))
    projected = dict(Listing.objects.values_list("pk", "is_served"))
    mismatches = [
        (case, pk in selected, projected[pk])
        for pk, case in versions.items()
        if not (pk in selected) == projected[pk] == expected_served(*case)
    ]
    assert mismatches == []
    assert len(selected) == sum(expected_served(*case) for case in CASES) > 0


@pytest.mark.parametrize("status", ["deleted", "deprecated"])
def test_upstream_withdrawal_wins_over_an_approving_policy_and_an_approval(status):
    Policy.objects.create(name="everything", effect=PolicyEffect.APPROVE)
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    sync_page(server)
    gone = server.versions.get(version="1.1.0")
    VersionCuration.objects.filter(pk=gone.pk).update(state=CurationState.APPROVED)
    assert Listing.objects.get(version=gone).is_served

    status_change(gone, status, message="malware")

    listing = Listing.objects.get(version=gone)
    assert not listing.is_served and listing.withdrawn_at is not None
    assert gone.pk not in set(served_versions().values_list("pk", flat=True))
    assert Listing.objects.get(version__server=server, version_string="1.0.0").is_latest
