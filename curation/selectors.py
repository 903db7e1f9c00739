import re
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q, QuerySet

from curation.choices import AuditSource, CurationState, VersionPolicy
from curation.models import AuditEvent, ServerCuration, VersionCuration
from mirror.choices import UpstreamStatus
from mirror.models import Server, ServerVersion


def served_rule() -> Q:
    """THE served rule, on ServerVersion: the one place that decides what employees' clients see.

    A version is served iff its upstream status is active, its server is approved, the version
    is not blocked, and the server's version policy admits it (all versions, or this version
    approved on its own).
    """
    return (
        Q(status=UpstreamStatus.ACTIVE)
        & Q(server__curation__state=CurationState.APPROVED)
        & ~Q(curation__state=CurationState.BLOCKED)
        & (Q(server__curation__version_policy=VersionPolicy.ALL) | Q(curation__state=CurationState.APPROVED))
    )


def served_versions() -> QuerySet[ServerVersion]:
    return ServerVersion.objects.filter(served_rule())


# --- What a server.json offers, as rules on a JSONB field holding one ---------------------------
# `document` is the lookup path of that field from the queried model, e.g. "latest_version__document".


def remote_rule(*, document: str) -> Q:
    """The server.json lists at least one remote: an endpoint to connect to."""
    return _has_objects(document=document, key="remotes")


def local_rule(*, document: str) -> Q:
    """The server.json lists at least one package: something to run on one's own machine."""
    return _has_objects(document=document, key="packages")


def package_type_rule(*, document: str, registry_type: str) -> Q:
    """The server.json lists a package of this `registryType` (npm, pypi, oci, nuget, mcpb)."""
    return Q(**{f"{document}__packages__contains": [{"registryType": registry_type}]})


def _has_objects(*, document: str, key: str) -> Q:
    # `@> [{}]` holds for any array holding an object. On its own, a missing key makes it NULL, and
    # NOT NULL is NULL too, so an exclude() would drop those rows: has_key makes it false instead.
    return Q(**{f"{document}__has_key": key, f"{document}__{key}__contains": [{}]})


@dataclass(frozen=True)
class ReviewQueue:
    """What waits for a curator: pending servers, and pending versions of `reviewed` servers."""

    servers: QuerySet[Server]
    versions: QuerySet[VersionCuration]

    def __len__(self):
        return self.servers.count() + self.versions.count()


def review_queue() -> ReviewQueue:
    """Newest first (by when the mirror first saw them)."""
    return ReviewQueue(
        # A server without a curation row yet is pending too.
        servers=Server.objects.filter(Q(curation__state=CurationState.PENDING) | Q(curation__isnull=True))
        .select_related("latest_version").order_by("-first_seen_at", "-pk"),
        versions=VersionCuration.objects.filter(
            state=CurationState.PENDING, version__server__curation__version_policy=VersionPolicy.REVIEWED,
        ).select_related("version", "version__server", "version__server__curation")
        .defer("version__server_json", "version__document")
        .order_by("-version__first_seen_at", "-pk"),
    )


def curation_counts() -> dict[str, int]:
    """Servers by state (servers without a curation row count as pending), and the review queue length."""
    by_state = dict(ServerCuration.objects.order_by().values_list("state").annotate(count=Count("pk")))
    uncurated = Server.objects.filter(curation__isnull=True).count()
    queue = review_queue()
    counts = {state: by_state.get(state, 0) for state in CurationState.values}
    counts[CurationState.PENDING] += uncurated
    counts["pending_versions"] = queue.versions.count()
    # The queue length is what the review queue lists, so the dashboard and the queue agree.
    counts["queue"] = queue.servers.count() + counts["pending_versions"]
    counts["servers"] = sum(by_state.values()) + uncurated
    return counts


def approved_servers_changed_upstream() -> dict[str, int]:
    """Approved servers whose latest version upstream is deprecated or deleted, and those missing upstream.

    The served rule admits active versions only, so neither deprecated nor deleted ones are served; either way
    a curator may want to revisit the approval.
    """
    return Server.objects.filter(curation__state=CurationState.APPROVED).aggregate(
        deprecated=Count("pk", filter=Q(latest_version__status=UpstreamStatus.DEPRECATED)),
        deleted=Count("pk", filter=Q(latest_version__status=UpstreamStatus.DELETED)),
        missing_upstream=Count("pk", filter=Q(missing_upstream_since__isnull=False)),
    )


def audit_events(*, since: datetime | None = None, until: datetime | None = None, server_name: str = "",
                 action: str = "", actor_name: str = "", source: str = "") -> QuerySet[AuditEvent]:
    """Audit events in time order (oldest first, as an export reads them), filtered by what is given."""
    lookups = {"at__gte": since, "at__lt": until, "server_name": server_name, "action": action,
               "actor_name": actor_name, "source": source}
    given = {lookup: value for lookup, value in lookups.items() if value}
    return AuditEvent.objects.filter(**given).order_by("at", "id")


def recent_audit_events(limit: int = 10) -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("-at", "-id")[:limit])


# The actor name of what a policy rule decides: `policy:<rule name>`.
POLICY_ACTOR_PREFIX = "policy:"
# Actor names recorded when no user acted (services.Actor.of): the source's name.
MACHINE_ACTORS = frozenset({AuditSource.SYNC, AuditSource.CLI, AuditSource.API})

# A loose index scan of (actor_name, at): one index probe per distinct name, however many events each has.
ACTOR_NAMES_SQL = """
WITH RECURSIVE names (name) AS (
    (SELECT actor_name FROM {table} ORDER BY actor_name LIMIT 1)
    UNION ALL
    SELECT (SELECT actor_name FROM {table} WHERE actor_name > names.name ORDER BY actor_name LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL
"""


def audit_actor_names() -> list[str]:
    """Every actor name in the audit trail: people first, then the registry's own actors, then policy rules."""
    with connection.cursor() as cursor:
        cursor.execute(ACTOR_NAMES_SQL.format(table=connection.ops.quote_name(AuditEvent._meta.db_table)))
        names = [name for (name,) in cursor.fetchall()]

    def group(name: str) -> int:
        if name.startswith(POLICY_ACTOR_PREFIX):
            return 2
        return 1 if name in MACHINE_ACTORS else 0

    return sorted(names, key=lambda name: (group(name), name))


GLOB_CHARACTERS = re.compile(r"[*?\[]")


def is_glob(name: str) -> bool:
    return bool(GLOB_CHARACTERS.search(name))


def glob_to_regex(pattern: str) -> str:
    """An `fnmatch.fnmatchcase` glob as an anchored PostgreSQL regular expression."""
    parts, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[":
            end = i
            if end < len(pattern) and pattern[end] == "!":
                end += 1
            if end < len(pattern) and pattern[end] == "]":
                end += 1
            end = pattern.find("]", end)
            if end == -1:
                parts.append(r"\[")
                continue
            body = pattern[i:end].replace("\\", "\\\\")
            i = end + 1
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith(("^", "[")):
                body = "\\" + body
            parts.append(f"[{body}]")
        else:
            parts.append(re.escape(char))
    parts.append("$")
    return "".join(parts)


def servers_matching(glob: str) -> QuerySet[Server]:
    """Servers whose name matches the glob exactly as `fnmatch.fnmatchcase` would, filtered in SQL."""
    return Server.objects.filter(name__regex=glob_to_regex(glob))


def versions_with_decisions(versions: QuerySet[ServerVersion]) -> QuerySet[ServerVersion]:
    """These versions with their own decision, their server's decision and their listing, in the same query.

    A version without a decision row is pending; without a listing, not served.
    """
    return versions.select_related("server__curation", "curation", "listing")


def versions_by_served(versions: QuerySet[ServerVersion], *, served: bool) -> QuerySet[ServerVersion]:
    """The versions clients get (the served projection, as the API reads it), or those they do not."""
    if served:
        return versions.filter(listing__is_served=True)
    return versions.filter(Q(listing__isnull=True) | Q(listing__is_served=False))
