"""Reads for the employee catalog, the client-config extension and the allowlist export.

Everything here starts from `curation.Listing.is_served`, the precomputed served rule.
"""

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform

from curation.models import Listing
from mirror.versioning import semver_key

# The listing columns and version fields the pages read; server_json is never needed here.
_VERSION_FIELDS = ("version__id", "version__version", "version__document", "version__published_at",
                   "version__server_id")


def _served() -> QuerySet[Listing]:
    return Listing.objects.filter(is_served=True).select_related("version").only(
        "name", "version_string", "is_latest", "updated_at", "org_meta", *_VERSION_FIELDS
    )


def catalog_servers(*, search: str = "") -> QuerySet[Listing]:
    """The latest served version of each approved server, by name; `search` matches name, title or description."""
    listings = _served().filter(is_latest=True)
    search = search.strip()
    if search:
        listings = listings.annotate(
            document_title=KeyTextTransform("title", "version__document"),
            document_description=KeyTextTransform("description", "version__document"),
        ).filter(
            Q(name__icontains=search)
            | Q(document_title__icontains=search)
            | Q(document_description__icontains=search)
        )
    return listings.order_by("name")


def catalog_server_versions(*, name: str) -> list[Listing]:
    """Every served version of `name`, newest first by upstream's `isLatest` rule (semver precedence, semver
    before non-semver, then publishedAt); empty when the name is not served."""
    return sorted(_served().filter(name=name), key=_version_rank, reverse=True)


def _version_rank(listing: Listing) -> tuple:
    semver = semver_key(listing.version_string)
    return (semver is not None, semver or (), listing.version.published_at, listing.version_string)


def served_listing(*, name: str, version: str | None = None) -> Listing | None:
    """The served listing for `name` at `version`, or its latest served version when `version` is None or "latest"."""
    listings = _served().filter(name=name)
    if version in (None, "", "latest"):
        listings = listings.filter(is_latest=True)
    else:
        listings = listings.filter(version_string=version)
    return listings.first()


def allowlist_listings() -> QuerySet[Listing]:
    """Every served version, by name then version: the input of the allowlist export."""
    return _served().order_by("name", "version_string")
