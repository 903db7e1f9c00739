from collections import defaultdict
from typing import Iterable

from django.db import transaction
from django.utils import timezone

from curation.choices import CurationState
from curation.models import Listing
from curation.selectors import served_versions
from mirror.models import ServerVersion
from mirror.versioning import pick_latest


def _org_meta(version: ServerVersion) -> dict:
    server_curation = getattr(version.server, "curation", None)
    version_curation = getattr(version, "curation", None)
    meta = {**(server_curation.meta if server_curation else {}), **(version_curation.meta if version_curation else {})}
    state = server_curation.state if server_curation else CurationState.PENDING
    meta["curationState"] = state
    if version_curation and version_curation.state != CurationState.PENDING:
        meta["versionCurationState"] = version_curation.state
    if state == CurationState.APPROVED:
        meta["approvedBy"] = server_curation.decided_by_name
        meta["approvedAt"] = server_curation.decided_at.isoformat() if server_curation.decided_at else None
    return meta


@transaction.atomic
def listing_refresh(*, server_ids: Iterable[int]) -> int:
    """Recompute the served projection for these servers; return how many listings changed.

    An entry's `updated_at` moves whenever what the API would serve for it changes
    (served or not, latest or not, org metadata, upstream content or status), so
    `updated_since` consumers see approvals, blocks and withdrawals.
    """
    ids = sorted(set(server_ids))
    if not ids:
        return 0
    now = timezone.now()
    versions = list(
        ServerVersion.objects.filter(server_id__in=ids)
        .select_related("server", "server__curation", "curation")
        .defer("server_json", "document")
    )
    served_ids = set(served_versions().filter(server_id__in=ids).values_list("id", flat=True))
    existing = {listing.version_id: listing for listing in Listing.objects.filter(version__server_id__in=ids)}

    served_by_server = defaultdict(list)
    for version in versions:
        if version.id in served_ids:
            served_by_server[version.server_id].append(version)
    latest_ids = {latest.id for latest in (pick_latest(vs) for vs in served_by_server.values()) if latest}

    to_create, to_update = [], []
    for version in versions:
        is_served = version.id in served_ids
        is_latest = version.id in latest_ids
        org_meta = _org_meta(version)
        listing = existing.get(version.id)
        if listing is None:
            to_create.append(Listing(
                version=version, name=version.server.name, version_string=version.version,
                is_served=is_served, is_latest=is_latest, updated_at=now, org_meta=org_meta,
            ))
            continue
        moved = (listing.is_served, listing.is_latest, listing.org_meta) != (is_served, is_latest, org_meta)
        if not moved and version.changed_at <= listing.updated_at:
            continue
        if listing.is_served and not is_served:
            listing.withdrawn_at = now
        elif is_served:
            listing.withdrawn_at = None
        listing.is_served, listing.is_latest, listing.org_meta, listing.updated_at = is_served, is_latest, org_meta, now
        to_update.append(listing)

    Listing.objects.bulk_create(to_create, batch_size=1000)
    Listing.objects.bulk_update(
        to_update, ["is_served", "is_latest", "org_meta", "updated_at", "withdrawn_at"], batch_size=1000
    )
    return len(to_create) + len(to_update)
