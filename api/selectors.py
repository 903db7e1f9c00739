"""Reads for the registry API: one SQL query each, over the served projection (`curation.Listing`).

Rows come back as tuples in `ENTRY_COLUMNS` order, never as model instances, and carry the stored
`server_json` text so that the API can splice it into the response unchanged.
"""

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from api.cursors import Cursor, ListFilters
from curation.models import Listing

ENTRY_COLUMNS = (
    "name", "version_string", "is_served", "is_latest", "updated_at", "withdrawn_at", "org_meta_text",
    "version__server_json", "version__status_changed_at", "version__published_at", "version__status_message",
)


def _visible(*, include_tombstones: bool) -> Q:
    served = Q(is_served=True)
    return served | Q(withdrawn_at__isnull=False) if include_tombstones else served


def _entries(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(org_meta_text=Cast("org_meta", TextField())).values_list(*ENTRY_COLUMNS)


def listing_page(*, filters: ListFilters, after: Cursor | None, limit: int) -> list[tuple]:
    """Up to `limit + 1` entries in (name, version) order after the cursor: the extra row says "more"."""
    queryset = Listing.objects.filter(_visible(include_tombstones=filters.include_tombstones))
    if after is not None:
        # `name >= n` lets PostgreSQL walk the (name, version_string) index from the cursor on.
        queryset = queryset.filter(
            Q(name__gte=after.name) & (Q(name__gt=after.name) | Q(version_string__gt=after.version))
        )
    if filters.search:
        queryset = queryset.filter(name__icontains=filters.search)
    if filters.updated_since is not None:
        queryset = queryset.filter(updated_at__gt=filters.updated_since)
    if filters.version == "latest":
        queryset = queryset.filter(is_latest=True)
    elif filters.version:
        queryset = queryset.filter(version_string=filters.version)
    return list(_entries(queryset.order_by("name", "version_string"))[: limit + 1])


def listing_versions(*, name: str, include_tombstones: bool) -> list[tuple]:
    """Every visible version of one name, newest publication first."""
    queryset = Listing.objects.filter(_visible(include_tombstones=include_tombstones), name=name)
    return list(_entries(queryset.order_by("-version__published_at", "-version_string")))


def listing_lookup(*, name: str, version: str, include_tombstones: bool) -> tuple | None:
    """One entry by exact version, or the latest served one for `latest`."""
    queryset = Listing.objects.filter(name=name)
    if version == "latest":
        queryset = queryset.filter(is_served=True, is_latest=True)
    else:
        queryset = queryset.filter(_visible(include_tombstones=include_tombstones), version_string=version)
    return _entries(queryset).first()

