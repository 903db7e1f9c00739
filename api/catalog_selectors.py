"""Reads for the employee catalog, the client-config extension and the allowlist export.

Everything here starts from `curation.Listing.is_served`, the precomputed served rule.
"""

from django.db.models import Case, F, Func, Q, QuerySet, TextField, Value, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Coalesce, Collate, Lower, NullIf
from django.db.models.lookups import Exact

from curation.models import Listing
from curation.selectors import local_rule, package_type_rule, remote_rule
from mirror.versioning import semver_key

# The listing columns and version fields the pages read; server_json is never needed here.
_VERSION_FIELDS = ("version__id", "version__version", "version__document", "version__published_at",
                   "version__server_id")
# The served server.json, as a lookup from Listing.
_DOCUMENT = "version__document"


def _served() -> QuerySet[Listing]:
    return Listing.objects.filter(is_served=True).select_related("version").only(
        "name", "version_string", "is_latest", "updated_at", "org_meta", *_VERSION_FIELDS
    )


def catalog_servers(
    *, search: str = "", runs: str = "", package_type: str = "", sort: str = "name"
) -> QuerySet[Listing]:
    """The latest served version of each approved server.

    `search` matches name, title or description; `runs` is "remote" or "local"; `package_type` is a package
    `registryType`; an empty value filters nothing. `sort` is "name", "title" (the title a card shows:
    server.json's, else the name's last part; ignoring case) or "updated" (most recently updated first).
    """
    listings = _served().filter(is_latest=True)
    search = search.strip()
    if search:
        listings = listings.annotate(
            document_title=KeyTextTransform("title", _DOCUMENT),
            document_description=KeyTextTransform("description", _DOCUMENT),
        ).filter(
            Q(name__icontains=search)
            | Q(document_title__icontains=search)
            | Q(document_description__icontains=search)
        )
    if runs == "remote":
        listings = listings.filter(remote_rule(document=_DOCUMENT))
    elif runs == "local":
        listings = listings.filter(local_rule(document=_DOCUMENT))
    if package_type:
        listings = listings.filter(package_type_rule(document=_DOCUMENT, registry_type=package_type))
    return listings.order_by(*_ordering(sort))


def _ordering(sort: str) -> tuple:
    if sort == "title":
        # Schemas before 2025-10-11 leave `title` untyped; a card shows only a string one.
        is_text = Exact(Func(KeyTransform("title", _DOCUMENT), function="jsonb_typeof", output_field=TextField()),
                        "string")
        text_title = Case(When(is_text, then=NullIf(KeyTextTransform("title", _DOCUMENT), Value(""))),
                          output_field=TextField())
        title = Coalesce(text_title, _short_name(), output_field=TextField())
        # `name` has the "C" collation, under which lower() changes ASCII letters only.
        return Lower(Collate(title, "default")), "name"
    if sort == "updated":
        return "-updated_at", "name"
    return ("name",)


def _short_name() -> Func:
    """The part of the name after its last "/", which a card shows as the title when there is none."""
    return Func(F("name"), Value("/"), Value(-1), function="split_part", output_field=TextField())


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
