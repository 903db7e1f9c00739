"""Reads for the registry API: one SQL statement each, over the served projection (`curation.Listing`).

These are the API's hot path, so the SQL is written out rather than compiled by the ORM on every
request (that compile cost as much as the query). Rows come back as tuples in `_SELECT`'s column order
(unpacked by `api/rendering.py`):
the stored `server_json` text, the org metadata as JSON text and the timestamps already rendered by
PostgreSQL, so the API only splices strings and never re-serialises upstream data.
"""

import psycopg
from django.db import connection

from api.cursors import Cursor, ListFilters
from curation.models import Listing

def _rfc3339(column: str) -> str:
    """timestamptz as upstream renders it (Go `time.Time`): UTC `Z`, up to 6 fraction digits, zeros trimmed."""
    return f"""rtrim(rtrim(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'"""


_LISTING = Listing._meta.db_table
_VERSION = Listing._meta.get_field("version").related_model._meta.db_table
_SELECT = f"""
    SELECT l.name, l.version_string, l.is_served, l.is_latest, {_rfc3339("l.updated_at")},
           {_rfc3339("l.withdrawn_at")}, l.org_meta::text, v.server_json, {_rfc3339("v.status_changed_at")},
           {_rfc3339("v.published_at")}, v.status_message
    FROM {_LISTING} l JOIN {_VERSION} v ON v.id = l.version_id
"""


def _visible(*, include_tombstones: bool) -> str:
    return "(l.is_served OR l.withdrawn_at IS NOT NULL)" if include_tombstones else "l.is_served"


def _like_substring(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fetch(sql: str, params: list) -> list[tuple]:
    """Run one statement with server-side binding, so psycopg prepares it once it repeats (planning
    cost as much as executing these; `DATABASE_PREPARED_STATEMENTS` in settings). Django's cursors
    bind client-side, which never prepares; this one is still wrapped the Django way, so query logging
    and counting see it."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def listing_page(*, filters: ListFilters, after: Cursor | None, limit: int) -> list[tuple]:
    """Up to `limit + 1` entries in (name, version) order after the cursor: the extra row says "more".

    The row comparison walks the (name, version_string) index from the cursor on, so a deep page
    costs what the first one does.

    Sync pages (with tombstones: `include_deleted=true` or `updated_since`) run in (updated_at, name,
    version) order instead: a syncing client takes its next `updated_since` from the highest `updatedAt`
    of its walk, so a change made during the walk to a name it has passed must come later in it, not
    be skipped for good.
    """
    where, params = [_visible(include_tombstones=filters.include_tombstones)], []
    order = "l.name, l.version_string"
    if filters.include_tombstones:
        order = f"l.updated_at, {order}"
        if after is not None:
            where.append("(l.updated_at, l.name, l.version_string) > (%s, %s, %s)")
            params += [after.updated_at, after.name, after.version]
    elif after is not None and filters.version == "latest":
        # One entry per name: if the latest moved on to a higher version since the last page, the
        # row comparison below would list that name a second time.
        where.append("l.name > %s")
        params.append(after.name)
    elif after is not None:
        where.append("(l.name, l.version_string) > (%s, %s)")
        params += [after.name, after.version]
    if filters.search:
        where.append("l.name ILIKE %s")
        params.append(_like_substring(filters.search))
    if filters.updated_since is not None:
        where.append("l.updated_at > %s")
        params.append(filters.updated_since)
    if filters.version == "latest":
        where.append("l.is_latest")
    elif filters.version:
        where.append("l.version_string = %s")
        params.append(filters.version)
    # The limit is written into the SQL: as a parameter, the prepared statement's generic plan would not
    # know it and picks a parallel scan that costs ten times the index walk.
    return _fetch(
        f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT {int(limit) + 1}", params,
    )


def listing_versions(*, name: str, include_tombstones: bool) -> list[tuple]:
    """Every visible version of one name, newest publication first."""
    return _fetch(
        f"{_SELECT} WHERE {_visible(include_tombstones=include_tombstones)} AND l.name = %s "
        "ORDER BY v.published_at DESC, l.version_string DESC",
        [name],
    )


def listing_lookup(*, name: str, version: str, include_tombstones: bool) -> tuple | None:
    """One entry by exact version, or the one flagged latest for `latest`."""
    if version == "latest":
        rows = _fetch(f"{_SELECT} WHERE {_visible(include_tombstones=include_tombstones)} AND l.is_latest "
                      "AND l.name = %s LIMIT 1", [name])
    else:
        rows = _fetch(
            f"{_SELECT} WHERE {_visible(include_tombstones=include_tombstones)} AND l.name = %s "
            "AND l.version_string = %s",
            [name, version],
        )
    return rows[0] if rows else None
