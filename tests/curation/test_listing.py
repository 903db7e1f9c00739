from datetime import timedelta

import pytest
from django.utils import timezone

from curation.choices import CurationState, VersionPolicy
from curation.models import Listing, ServerCuration, VersionCuration
from curation.services import listing_refresh
from tests.factories import ServerFactory, ServerVersionFactory

pytestmark = pytest.mark.django_db


def _listings(server):
    return {listing.version_string: listing for listing in Listing.objects.filter(version__server=server)}


def test_projection_serves_approved_active_versions_and_picks_latest_among_them():
    server = ServerFactory()
    for version in ("1.9.0", "1.10.0", "2.0.0"):
        ServerVersionFactory(server=server, version=version)
    ServerCuration.objects.create(server=server, state=CurationState.APPROVED, decided_by_name="alice")
    VersionCuration.objects.create(version=server.versions.get(version="2.0.0"), state=CurationState.BLOCKED)

    listing_refresh(server_ids=[server.id])

    listings = _listings(server)
    assert {v for v, listing in listings.items() if listing.is_served} == {"1.9.0", "1.10.0"}
    assert [v for v, listing in listings.items() if listing.is_latest] == ["1.10.0"]
    assert listings["1.10.0"].org_meta["curationState"] == "approved"
    assert listings["1.10.0"].org_meta["approvedBy"] == "alice"


def test_withdrawal_sets_a_tombstone_time_and_reapproval_clears_it():
    version = ServerVersionFactory()
    curation = ServerCuration.objects.create(server=version.server, state=CurationState.APPROVED)
    listing_refresh(server_ids=[version.server_id])
    served_at = Listing.objects.get(pk=version.pk).updated_at

    curation.state = CurationState.BLOCKED
    curation.save()
    listing_refresh(server_ids=[version.server_id])
    withdrawn = Listing.objects.get(pk=version.pk)
    assert not withdrawn.is_served
    assert withdrawn.withdrawn_at == withdrawn.updated_at > served_at

    curation.state = CurationState.APPROVED
    curation.save()
    listing_refresh(server_ids=[version.server_id])
    assert Listing.objects.get(pk=version.pk).withdrawn_at is None


def test_reviewed_policy_serves_only_versions_approved_on_their_own():
    server = ServerFactory()
    reviewed = ServerVersionFactory(server=server, version="1.0.0")
    ServerVersionFactory(server=server, version="1.1.0")
    ServerCuration.objects.create(server=server, state=CurationState.APPROVED, version_policy=VersionPolicy.REVIEWED)
    VersionCuration.objects.create(version=reviewed, state=CurationState.APPROVED)

    listing_refresh(server_ids=[server.id])

    assert [v for v, listing in _listings(server).items() if listing.is_served] == ["1.0.0"]


def test_refresh_without_changes_touches_nothing():
    version = ServerVersionFactory()
    ServerCuration.objects.create(server=version.server, state=CurationState.APPROVED)
    assert listing_refresh(server_ids=[version.server_id]) == 1
    assert listing_refresh(server_ids=[version.server_id]) == 0


def test_a_stamp_always_passes_the_highest_stamp_already_given():
    """Even behind a clock that went back (or rows stamped by a host whose clock ran ahead)."""
    ahead = timezone.now() + timedelta(days=1)
    first, second = ServerVersionFactory(), ServerVersionFactory()
    for version in (first, second):
        ServerCuration.objects.create(server=version.server, state=CurationState.APPROVED)
    listing_refresh(server_ids=[first.server_id])
    Listing.objects.update(updated_at=ahead)

    listing_refresh(server_ids=[second.server_id])

    assert Listing.objects.get(pk=second.pk).updated_at > ahead


def test_a_content_change_stamped_before_a_later_listing_stamp_still_moves_updated_at():
    """A sync stamps `changed_at` before it takes the curation locks; a curator's action on the same
    server can commit in between and stamp the listing later. The sync's refresh must still move it."""
    version = ServerVersionFactory()
    ServerCuration.objects.create(server=version.server, state=CurationState.APPROVED)
    listing_refresh(server_ids=[version.server_id])
    curator_stamp = Listing.objects.get(pk=version.pk).updated_at
    type(version).objects.filter(pk=version.pk).update(
        server_json='{"name":"changed"}', changed_at=curator_stamp - timedelta(seconds=1))

    assert listing_refresh(server_ids=[version.server_id]) == 1

    listing = Listing.objects.get(pk=version.pk)
    assert listing.updated_at > curator_stamp
    assert listing.version_changed_at == curator_stamp - timedelta(seconds=1)
