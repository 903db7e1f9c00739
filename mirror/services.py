"""The mirror's writes: the upstream sync and the schema cache.

`sync_run_execute` pages the upstream list and commits pages in batches of about
MIRROR_BATCH_ENTRIES entries, one transaction per batch: entries are upserted in bulk by
(name, version), unchanged ones skipped by content hash, discoveries, status changes and content
changes (with the server.json text they replaced) recorded as UpstreamEvents, `isLatest`
recomputed locally for every touched name, and `mirror_changed` sent inside the same transaction.
When upstream fails mid-run, the pages already received are committed before the run fails.

Each entry lands in exactly one SyncRun counter: `created`, `status_changed` (its status moved,
whatever else changed), `changed` (content or upstream metadata), `unchanged` or `rejected`. A
stored version whose new server.json is rejected keeps its stored one, but a status change it
carries is still applied and recorded (counted as `rejected`).
"""

import gc
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import psycopg
import structlog
from django.conf import settings
from django.db import connections, transaction
from django.db.models import BooleanField, ExpressionWrapper, JSONField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Now
from django.utils import timezone

from mirror import selectors
from mirror.choices import SyncMode, SyncOutcome, UpstreamEventKind, UpstreamStatus
from mirror.models import SchemaDocument, Server, ServerVersion, SyncRun, UpstreamEvent
from mirror.signals import mirror_changed
from mirror.upstream import (
    Page,
    UpstreamClient,
    UpstreamError,
    fetch_json,
    http_client,
    is_storable_text,
    parse_timestamp,
    storable_text,
)
from mirror.validation import (
    OFFICIAL_SCHEMA_URL,
    SchemaUnavailable,
    ServerJsonValidator,
    UnknownSchema,
    nesting_depth,
    schema_compile,
)
from mirror.versioning import pick_latest

logger = structlog.get_logger(__name__)

OFFICIAL_META = "io.modelcontextprotocol.registry/official"
# pg_try_advisory_lock key of the sync ("mcpsync" as a big-endian integer).
SYNC_LOCK_KEY = int.from_bytes(b"mcpsync", "big")
REJECTIONS_KEPT = 1000
# Served three levels down in a list page, a deeper `server` would pass 64 levels, where common
# clients' JSON parsers stop (System.Text.Json's default): one such entry would break whole pages.
MAX_SERVER_NESTING = 60
MISSING_BATCH = 500
# A JSON `\u0000` escape (not an escaped backslash followed by "u0000"): JSONB cannot store it.
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

VERSION_UPDATE_FIELDS = [
    "server_json", "document", "content_hash", "status", "status_changed_at", "status_message",
    "published_at", "upstream_updated_at", "last_seen_at", "changed_at",
]


class SyncAlreadyRunning(Exception):
    """Another sync holds the lock; this one did nothing."""


class SyncLockLost(Exception):
    """The sync lock was lost mid-run; the batch in hand was rolled back."""


class _Rejected(Exception):
    """An entry refused, with what can be recorded of it: upstream's text escaped where it cannot be stored."""

    def __init__(self, reason: str, *, name: object = "", version: object = ""):
        super().__init__(reason)
        self.reason = storable_text(reason)
        self.name = storable_text(name) if isinstance(name, str) else ""
        self.version = storable_text(version) if isinstance(version, str) else ""


@dataclass
class _Batch:
    """Parsed pages waiting to be written together: entries by (name, version), and the rejects."""

    pages: int = 0
    entries: dict[tuple[str, str], "_Entry"] = field(default_factory=dict)
    rejections: list[_Rejected] = field(default_factory=list)


@dataclass
class _Entry:
    name: str
    version: str
    server: dict
    server_json: str
    content_hash: str
    status: str
    status_changed_at: datetime
    status_message: str
    published_at: datetime
    updated_at: datetime


class _Stored(NamedTuple):
    id: int
    server_id: int
    version: str
    content_hash: str
    status: str
    status_changed_at: datetime
    status_message: str
    published_at: datetime
    upstream_updated_at: datetime


class _LatestCandidate(NamedTuple):
    id: int
    server_id: int
    version: str
    published_at: datetime
    status: str
    is_latest: bool


# --- Schema cache ---------------------------------------------------------------------------


def schema_document_obtain(*, url: str, http) -> str:
    """The schema's text: from the DB cache, else fetched once (checked, then stored for later runs).

    Raises SchemaUnavailable when it cannot be had right now (timeouts, 5xx, 429: the run stops and
    the next one asks again), and UnknownSchema when a URL an entry names answers with a final error
    (403 and 404 alike: static hosts answer either for a missing file) or serves something that is
    not that schema: only the entries naming it are rejected. The configured default is never
    unknown: without it nothing can be checked, so the run stops instead.
    """
    cached = SchemaDocument.objects.filter(url=url).values_list("body", flat=True).first()
    if cached is not None:
        return cached
    named_by_entry = url != settings.MIRROR_SERVER_SCHEMA_URL
    try:
        text = json.dumps(fetch_json(http, url, what="schema"), ensure_ascii=False)
        schema_compile(url, text)  # never cache something that is not the schema
    except UpstreamError as exc:
        if named_by_entry and exc.status_code is not None:  # set only for an answer retrying cannot change
            raise UnknownSchema(f"upstream answered HTTP {exc.status_code}") from exc
        raise SchemaUnavailable(f"the server.json schema {url} is not cached and could not be fetched: {exc}") from exc
    except SchemaUnavailable as exc:
        if named_by_entry:
            raise UnknownSchema(str(exc)) from exc
        raise
    SchemaDocument.objects.get_or_create(url=url, defaults={"body": text})
    logger.info("schema_cached", url=url)
    return text


def schema_document_load(text: str) -> tuple[SchemaDocument, bool]:
    """Cache a server.json schema given as text, for installs that cannot reach the schemas' host.

    The schema is the one its `$id` names, which must be an official schema URL or
    MIRROR_SERVER_SCHEMA_URL; it must compile. Returns the document and whether its text is new (a
    cached text for that URL is replaced). Raises SchemaUnavailable saying what is wrong.
    """
    try:
        url = json.loads(text).get("$id")
    except (ValueError, AttributeError, RecursionError):
        raise SchemaUnavailable("it is not a JSON Schema document with an `$id`") from None
    if not isinstance(url, str):
        raise SchemaUnavailable("it has no `$id` string naming the schema's URL")
    if not (OFFICIAL_SCHEMA_URL.match(url) or url == settings.MIRROR_SERVER_SCHEMA_URL):
        raise SchemaUnavailable(f"its $id {url[:200]!r} is neither an official server.json schema URL "
                                "nor MIRROR_SERVER_SCHEMA_URL")
    schema_compile(url, text)
    document, created = SchemaDocument.objects.get_or_create(url=url, defaults={"body": text})
    changed = created or document.body != text
    if changed and not created:
        document.body = text
        document.fetched_at = timezone.now()
        document.save(update_fields=["body", "fetched_at"])
    logger.info("schema_loaded", url=url, changed=changed)
    return document, changed


# --- The sync -------------------------------------------------------------------------------


@contextmanager
def _sync_lock():
    """A session-level advisory lock on a connection of its own, taken without waiting.

    Yields a check to run before each commit: the lock lives as long as its session, and a session
    that something else ended (a proxy, an administrator) has let a second sync start beside this one.
    """
    wrapper = connections["default"]
    connection = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [SYNC_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise SyncAlreadyRunning("another mirror sync is running; this one did nothing")

            def lock_confirm() -> None:
                try:
                    cursor.execute("SELECT 1")
                except psycopg.Error as exc:
                    raise SyncLockLost("the sync lock's database session ended mid-run; another sync may have "
                                       f"started, so this one stopped ({type(exc).__name__})") from exc

            try:
                yield lock_confirm
            finally:
                if not connection.broken:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [SYNC_LOCK_KEY])
    finally:
        connection.close()


def sync_run_execute(
    *, full: bool = False, upstream_url: str | None = None, progress: Callable[[SyncRun], None] | None = None
) -> SyncRun:
    """Mirror the upstream registry once; the returned SyncRun says how it went.

    Full on the first run, when asked, or when the last successful full run against the same
    upstream started more than MIRROR_FULL_SYNC_INTERVAL ago (only a full run flags servers missing
    after an upstream reset, and retries entries rejected before); else incremental from the start
    of the last successful run against that upstream minus MIRROR_SAFETY_MARGIN.

    `progress(run)` is called once the run is recorded and after each committed batch. Raises
    SyncAlreadyRunning, without touching anything, when another sync holds the lock.
    """
    upstream_url = (upstream_url or settings.MIRROR_UPSTREAM_URL).rstrip("/")
    with _sync_lock() as lock_confirm:
        _interrupted_runs_fail()
        started_at = _database_now()  # the clock that stamps what it sees, for _missing_flag to compare
        last_good = selectors.sync_run_last_succeeded(upstream_url=upstream_url)
        last_full = selectors.sync_run_last_succeeded(upstream_url=upstream_url, mode=SyncMode.FULL)
        full_due = last_full is None or last_full.started_at < started_at - settings.MIRROR_FULL_SYNC_INTERVAL
        incremental = not full and last_good is not None and not full_due
        run = SyncRun.objects.create(
            started_at=started_at,
            mode=SyncMode.INCREMENTAL if incremental else SyncMode.FULL,
            upstream_url=upstream_url,
            updated_since=last_good.started_at - settings.MIRROR_SAFETY_MARGIN if incremental else None,
        )
        log = logger.bind(sync_run=run.pk, mode=run.mode, upstream=upstream_url)
        log.info("sync_started", updated_since=run.updated_since.isoformat() if run.updated_since else None)
        if progress:
            progress(run)
        try:
            with _collector_skips_older_objects():
                _Sync(run, progress=progress, lock_confirm=lock_confirm).execute()
        except (UpstreamError, SchemaUnavailable, SyncLockLost) as exc:
            _run_fail(run, str(exc))
            log.warning("sync_failed", error=run.error)
        except BaseException as exc:  # a bug, a database error or an interrupt (Ctrl-C): record it, then let it surface
            _run_fail(run, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            log.exception("sync_crashed")
            raise
        else:
            run.outcome = SyncOutcome.SUCCEEDED
            run.finished_at = _database_now()  # the clock that stamped `started_at`
            run.save(update_fields=["outcome", "finished_at"])
            log.info("sync_succeeded", pages=run.pages, created=run.created, changed=run.changed,
                     status_changed=run.status_changed, unchanged=run.unchanged, rejected=run.rejected)
    return run


@contextmanager
def _collector_skips_older_objects():
    """Keep the cyclic garbage collector to objects the sync creates.

    Parsing pages allocates millions of objects, and each full collection it triggers would walk
    everything the process already held (Django, the app, the worker) again: a tenth to a fifth of
    a full sync's time. Those objects are frozen for the sync and handed back afterwards.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _bulk_write_settings():
    """Session settings for the sync's page transactions, reset afterwards.

    - Asynchronous commit: a page's commit does not wait for the WAL flush (a large share of a
      page's time). A crash can lose only the last few pages, never part of one. The run's outcome
      is committed synchronously afterwards, which flushes every page before it, so a recorded
      success never outlives its pages; a lost run stays `running`, is failed by the next sync,
      and the high-water mark stays where it was.
    - lz4 for the large `server.json` values, where the server is built with it: compressing them
      with the default pglz is a large share of PostgreSQL's work in a sync. Values already stored
      keep their compression; PostgreSQL reads both.
    """
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'off', false), set_config('default_toast_compression', "
            "  CASE WHEN 'lz4' = ANY(enumvals) THEN 'lz4' ELSE reset_val END, false) "
            "FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    try:
        yield
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT set_config(name, reset_val, false) FROM pg_settings "
                           "WHERE name IN ('synchronous_commit', 'default_toast_compression')")


def _database_now() -> datetime:
    """The database's clock, one for every host: the served projection's stamps are compared with
    `changed_at`, and a run's start with `last_seen_at`."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def _interrupted_runs_fail() -> None:
    """Runs still `running` while we hold the lock died mid-way (worker killed); close them."""
    SyncRun.objects.filter(outcome=SyncOutcome.RUNNING).update(
        outcome=SyncOutcome.FAILED, finished_at=Now(),
        error="interrupted: the process running this sync stopped before it finished",
    )


def _run_fail(run: SyncRun, error: str) -> None:
    run.refresh_from_db()  # drop counters of a page whose transaction rolled back
    run.outcome = SyncOutcome.FAILED
    run.finished_at = _database_now()
    run.error = f"failed after {run.pages} committed page(s): {storable_text(error)}"
    run.save(update_fields=["outcome", "finished_at", "error"])


class _Sync:
    def __init__(self, run: SyncRun, *, progress, lock_confirm: Callable[[], None]):
        self.run = run
        self.progress = progress
        self.lock_confirm = lock_confirm
        self.http = http_client()
        self.validator = ServerJsonValidator(
            default_url=settings.MIRROR_SERVER_SCHEMA_URL,
            load_schema=lambda url: schema_document_obtain(url=url, http=self.http),
        )

    def execute(self) -> None:
        try:
            with UpstreamClient(self.run.upstream_url) as upstream, _bulk_write_settings():
                batch = _Batch()
                try:
                    for page in upstream.server_pages(updated_since=self.run.updated_since):
                        entries, rejections = _page_parse(page)
                        # A batch holds each (name, version) once, so a repeat lands as its own write.
                        if batch.entries.keys() & entries.keys() or (
                            len(batch.entries) + len(entries) > settings.MIRROR_BATCH_ENTRIES and batch.pages
                        ):
                            batch = self._batch_commit(batch)
                        batch.pages += 1
                        batch.entries.update(entries)
                        batch.rejections += rejections
                except UpstreamError:
                    self._batch_commit(batch)  # keep what arrived before upstream failed
                    raise
                self._batch_commit(batch)
        finally:
            self.http.close()
        # Only the configured upstream's full listing says what is gone from it; another one's says nothing.
        if self.run.mode == SyncMode.FULL and self.run.upstream_url == settings.MIRROR_UPSTREAM_URL.rstrip("/"):
            _missing_flag(self.run, lock_confirm=self.lock_confirm)

    def _batch_commit(self, batch: _Batch) -> _Batch:
        """Write the batch (nothing if it is empty); return a fresh one."""
        if batch.pages:
            self._batch_apply(batch)
            if self.progress:
                self.progress(self.run)
        return _Batch()

    def _batch_apply(self, batch: _Batch) -> None:
        run = self.run
        entries, rejections = batch.entries, list(batch.rejections)
        names = {n for n, _ in entries} | {rejected.name for rejected in rejections if rejected.name}
        servers = {
            name: (server_id, missing_since)
            for name, server_id, missing_since in Server.objects.filter(name__any=names)
            .values_list("name", "id", "missing_upstream_since")
        }
        stored = {
            (row.server_id, row.version): row
            for row in map(_Stored._make, ServerVersion.objects.filter(
                server_id__any=[server_id for server_id, _ in servers.values()],
                version__any={v for _, v in entries},
            ).values_list(*_Stored._fields))
        }

        new, changed, status_changed, unchanged_ids = [], [], [], []
        # Stored versions whose new server.json was rejected but whose status moved: a takedown often
        # edits the entry too, and the stored text is kept, but the deletion must never be missed.
        status_only = []
        for key, entry in list(entries.items()):
            server_id = servers.get(entry.name, (None, None))[0]
            previous = stored.get((server_id, entry.version)) if server_id else None
            # An unchanged hash was validated when it was stored.
            if previous is None or previous.content_hash != entry.content_hash:
                problem = self.validator.problem(entry.server)
                if problem:
                    rejections.append(_Rejected(problem, name=entry.name, version=entry.version))
                    del entries[key]
                    if previous is not None and previous.status != entry.status:
                        status_only.append((entry, previous))
                    continue
            if previous is None:
                new.append(entry)
            elif previous.status != entry.status:
                status_changed.append((entry, previous))
            elif _differs(entry, previous):
                changed.append((entry, previous))
            else:
                unchanged_ids.append(previous.id)

        with transaction.atomic():
            now = _database_now()
            events: list[UpstreamEvent] = []
            # A known server whose entries were all rejected is still upstream: never flag it missing.
            seen_names = {entry.name for entry in entries.values()} | {
                rejected.name for rejected in rejections if rejected.name in servers
            }
            server_ids = self._servers_upsert(seen_names, servers, events, now)
            touched = set()

            created_versions = _versions_insert(new, servers=servers, now=now)
            discovered_servers = {event.server_id: event for event in events
                                  if event.kind == UpstreamEventKind.SERVER_DISCOVERED}
            for server_id, version_id in created_versions:
                touched.add(server_id)
                if server_id in discovered_servers and discovered_servers[server_id].version_id is None:
                    discovered_servers[server_id].version_id = version_id
                events.append(UpstreamEvent(sync_run=run, kind=UpstreamEventKind.VERSION_DISCOVERED,
                                            server_id=server_id, version_id=version_id, recorded_at=now))

            content_moved, metadata_moved = [], []
            for entry, previous in changed + status_changed:
                touched.add(previous.server_id)
                row = ServerVersion(
                    # From the stored text, as new versions are: encoding the object again could recurse too deep.
                    id=previous.id, server_json=entry.server_json,
                    document=Cast(Value(entry.server_json), output_field=JSONField()),
                    content_hash=entry.content_hash, status=entry.status, status_changed_at=entry.status_changed_at,
                    status_message=entry.status_message, published_at=entry.published_at,
                    upstream_updated_at=entry.updated_at, last_seen_at=now, changed_at=now,
                )
                moved = (previous.content_hash != entry.content_hash or previous.status != entry.status
                         or previous.status_message != entry.status_message
                         or previous.status_changed_at != entry.status_changed_at
                         or previous.published_at != entry.published_at)
                (content_moved if moved else metadata_moved).append(row)
            if status_only:
                touched.update(previous.server_id for _, previous in status_only)
                ServerVersion.objects.bulk_update([
                    ServerVersion(id=previous.id, status=entry.status, status_changed_at=entry.status_changed_at,
                                  status_message=entry.status_message, changed_at=now)
                    for entry, previous in status_only
                ], ["status", "status_changed_at", "status_message", "changed_at"])
            content_edited = [(entry, previous) for entry, previous in changed + status_changed
                              if previous.content_hash != entry.content_hash]
            if content_edited:
                # Read before the update below overwrites them: the event is the only copy of the old text left.
                replaced = dict(ServerVersion.objects.filter(id__any=[previous.id for _, previous in content_edited])
                                .values_list("id", "server_json"))
                events.extend(UpstreamEvent(
                    sync_run=run, kind=UpstreamEventKind.CONTENT_CHANGED, server_id=previous.server_id,
                    version_id=previous.id, upstream_at=entry.updated_at, recorded_at=now,
                    previous_server_json=replaced[previous.id],
                ) for entry, previous in content_edited)
            for entry, previous in status_changed + status_only:
                events.append(UpstreamEvent(
                    sync_run=run, kind=UpstreamEventKind.STATUS_CHANGED, server_id=previous.server_id,
                    version_id=previous.id, old_status=previous.status, new_status=entry.status,
                    upstream_at=entry.status_changed_at, status_message=entry.status_message, recorded_at=now,
                ))
            # `changed_at` follows what the API serves of an entry, which the served updatedAt reports:
            # everything but upstream's own updatedAt.
            if content_moved:
                ServerVersion.objects.bulk_update(content_moved, VERSION_UPDATE_FIELDS)
            if metadata_moved:
                ServerVersion.objects.bulk_update(
                    metadata_moved, [f for f in VERSION_UPDATE_FIELDS if f != "changed_at"]
                )
            if unchanged_ids:
                ServerVersion.objects.filter(id__any=unchanged_ids).update(last_seen_at=now)

            _latest_recompute(touched)
            _events_insert(events)

            run.pages += batch.pages
            run.created += len(new)
            run.changed += len(changed)
            run.status_changed += len(status_changed)
            run.unchanged += len(unchanged_ids)
            run.rejected += len(rejections)
            room = REJECTIONS_KEPT - len(run.rejections)
            if rejections and room > 0:
                run.rejections = run.rejections + [
                    {"name": r.name, "version": r.version, "reason": r.reason} for r in rejections[:room]
                ]
            run.save(update_fields=["pages", "created", "changed", "status_changed", "unchanged", "rejected",
                                    "rejections"])
            changed_servers = touched | server_ids
            if events or changed_servers:
                mirror_changed.send(sender=SyncRun, sync_run=run, events=events, server_ids=changed_servers)
            self.lock_confirm()

    def _servers_upsert(self, names: set[str], servers: dict, events: list, now) -> set[int]:
        """Create unknown names, clear `missing upstream` on returning ones, stamp all as seen.

        Fills `servers` with the new ids; returns the ids of servers that reappeared.
        """
        run = self.run
        created = Server.objects.bulk_create([
            Server(name=name, first_seen_at=now, last_seen_at=now) for name in sorted(names - servers.keys())
        ])
        for server in created:
            servers[server.name] = (server.id, None)
            events.append(UpstreamEvent(sync_run=run, kind=UpstreamEventKind.SERVER_DISCOVERED,
                                        server_id=server.id, recorded_at=now))
        returned = [server_id for name, (server_id, missing_since) in servers.items()
                    if name in names and missing_since is not None]
        if returned:
            Server.objects.filter(id__any=returned).update(missing_upstream_since=None)
            events.extend(UpstreamEvent(sync_run=run, kind=UpstreamEventKind.REAPPEARED_UPSTREAM,
                                        server_id=server_id, recorded_at=now) for server_id in returned)
        created_names = {server.name for server in created}
        existing = [servers[name][0] for name in names - created_names]
        if existing:
            Server.objects.filter(id__any=existing).update(last_seen_at=now)
        return set(returned)


_EVENT_COLUMNS = ("sync_run_id", "kind", "server_id", "version_id", "old_status", "new_status", "upstream_at",
                  "status_message", "previous_server_json", "recorded_at")


def _events_insert(events: list[UpstreamEvent]) -> None:
    """COPY the events in (the sync is their only writer); they stay unsaved instances for the receivers."""
    rows_copy(model=UpstreamEvent, columns=_EVENT_COLUMNS,
              rows=[tuple(getattr(event, column) for column in _EVENT_COLUMNS) for event in events])


_INSERT_COLUMNS = (
    "server_id", "version", "server_json", "document", "content_hash", "status", "status_changed_at",
    "status_message", "published_at", "upstream_updated_at", "is_latest", "first_seen_at", "last_seen_at",
    "changed_at",
)


def rows_copy(*, model, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert rows into `model`'s table with COPY, in order; JSON columns take JSON text, not objects.

    COPY rather than bulk_create for large batches: Django sends a bulk insert as UNNEST arrays and
    psycopg escapes every quote inside those arrays in pure Python, and building model instances
    costs more again. No RETURNING and no conflict handling: callers read back what they need and
    use it only for rows nobody else can insert concurrently (e.g. rows of objects created in the
    same transaction). Database errors surface as Django's (IntegrityError, …).
    """
    if not rows:
        return
    connection = connections["default"]
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _versions_insert(entries: list[_Entry], *, servers: dict, now: datetime) -> list[tuple[int, int]]:
    """COPY the new versions in; returns their (server_id, id) pairs."""
    if not entries:
        return []
    rows_copy(model=ServerVersion, columns=_INSERT_COLUMNS, rows=[
        (
            servers[entry.name][0], entry.version, entry.server_json, entry.server_json,
            entry.content_hash, entry.status, entry.status_changed_at, entry.status_message,
            entry.published_at, entry.updated_at, False, now, now, now,
        )
        for entry in entries
    ])
    ids = {
        (server_id, version): version_id
        for version_id, server_id, version in ServerVersion.objects.filter(
            server_id__any={servers[entry.name][0] for entry in entries},
            version__any={entry.version for entry in entries},
        ).values_list("id", "server_id", "version")
    }
    return [(servers[e.name][0], ids[(servers[e.name][0], e.version)]) for e in entries]


def _page_parse(page: Page) -> tuple[dict[tuple[str, str], _Entry], list[_Rejected]]:
    entries, rejections = {}, []
    for raw in page.entries:
        try:
            entry = _entry_parse(raw)
            if (entry.name, entry.version) in entries:
                raise _Rejected("the same name and version appear twice in one page",
                                name=entry.name, version=entry.version)
            entries[(entry.name, entry.version)] = entry
        except _Rejected as rejected:
            rejections.append(rejected)
    return entries, rejections


def _entry_parse(raw: object) -> _Entry:
    """The entry's server object and official metadata, or _Rejected saying what is wrong."""
    if not isinstance(raw, dict):
        raise _Rejected("entry is not a JSON object")
    server = raw.get("server")
    if not isinstance(server, dict):
        raise _Rejected("entry has no `server` object")
    name, version = server.get("name"), server.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise _Rejected("`server.name` and `server.version` must be strings", name=name, version=version)
    meta = raw.get("_meta")
    official = meta.get(OFFICIAL_META) if isinstance(meta, dict) else None
    if not isinstance(official, dict):
        raise _Rejected(f"`_meta` has no `{OFFICIAL_META}` object", name=name, version=version)
    status = official.get("status")
    if status not in UpstreamStatus.values:
        raise _Rejected(f"official status {str(status)[:50]!r} is not one of {', '.join(UpstreamStatus.values)}",
                        name=name, version=version)
    status_message = official.get("statusMessage", "")
    if not isinstance(status_message, str) or not is_storable_text(status_message):
        raise _Rejected("official statusMessage must be a string without NUL or unpaired surrogates",
                        name=name, version=version)
    times = {}
    for field in ("statusChangedAt", "publishedAt", "updatedAt"):
        try:
            times[field] = parse_timestamp(official.get(field))
        except ValueError:
            raise _Rejected(f"official {field} is missing or not an RFC 3339 timestamp",
                            name=name, version=version) from None
    try:
        server_json = server_json_dump(server)
    except ValueError:
        raise _Rejected("`server` contains NaN or an infinite number, which JSON cannot carry",
                        name=name, version=version) from None
    except RecursionError:  # deeper than Python recurses: far past the limit
        server_json = None
    # The brackets in the text bound the depth from above, in C: most entries need no walk.
    if server_json is None or (server_json.count("{") + server_json.count("[") > MAX_SERVER_NESTING
                               and nesting_depth(server) > MAX_SERVER_NESTING):
        raise _Rejected(f"`server` is nested more than {MAX_SERVER_NESTING} levels deep",
                        name=name, version=version)
    if "\\u0000" in server_json and _JSON_NUL.search(server_json):
        raise _Rejected("`server` contains a NUL character, which cannot be stored", name=name, version=version)
    for namespace in (OFFICIAL_META, settings.REGISTRY_META_NAMESPACE):
        # A key in our compact text is a string followed by ":"; escapes cannot hide one, the dump has none here.
        if f'"{namespace}":' in server_json:
            raise _Rejected(f"`server` uses the key {namespace!r}, which only registries write",
                            name=name, version=version)
    try:
        content_hash = hashlib.sha256(server_json.encode()).hexdigest()
    except UnicodeEncodeError:
        raise _Rejected("`server` contains an unpaired UTF-16 surrogate", name=name, version=version) from None
    return _Entry(
        name=name, version=version, server=server, server_json=server_json, content_hash=content_hash,
        status=status, status_changed_at=times["statusChangedAt"], status_message=status_message,
        published_at=times["publishedAt"], updated_at=times["updatedAt"],
    )


# Built once: json.dumps with non-default options builds an encoder per call. NaN and ±Infinity
# (which json.loads accepts, e.g. 1e400) raise ValueError: they are not JSON and PostgreSQL refuses them.
_SERVER_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                                        check_circular=False)


def server_json_dump(server: dict) -> str:
    """The stored text of an upstream `server` object: compact, key order kept; the API serves it verbatim."""
    return _SERVER_JSON_ENCODER.encode(server)


def _differs(entry: _Entry, stored: _Stored) -> bool:
    return (
        entry.content_hash != stored.content_hash
        or entry.status_changed_at != stored.status_changed_at
        or entry.status_message != stored.status_message
        or entry.published_at != stored.published_at
        or entry.updated_at != stored.upstream_updated_at
    )


def _latest_recompute(server_ids: set[int]) -> None:
    """Upstream's isLatest rule applied locally to every version of these servers."""
    if not server_ids:
        return
    by_server = defaultdict(list)
    for candidate in map(_LatestCandidate._make, ServerVersion.objects.filter(server_id__any=server_ids)
                         .values_list(*_LatestCandidate._fields)):
        by_server[candidate.server_id].append(candidate)
    latest_ids = [pick_latest(candidates).id for candidates in by_server.values()]
    should_flag = Q(id__any=latest_ids)
    ServerVersion.objects.filter(server_id__any=server_ids).filter(
        (Q(is_latest=True) & ~should_flag) | (Q(is_latest=False) & should_flag)
    ).update(is_latest=ExpressionWrapper(should_flag, output_field=BooleanField()))
    latest = ServerVersion.objects.filter(server_id=OuterRef("pk"), is_latest=True).values("id")[:1]
    Server.objects.filter(id__any=server_ids).exclude(latest_version_id__any=latest_ids).update(
        latest_version_id=Subquery(latest)
    )


def _missing_flag(run: SyncRun, *, lock_confirm: Callable[[], None]) -> None:
    """After a complete full sync: flag servers it never saw (an upstream reset), in batches. Never delete."""
    while True:
        with transaction.atomic():
            missing = list(
                Server.objects.filter(last_seen_at__lt=run.started_at, missing_upstream_since__isnull=True)
                .order_by("id").values_list("id", flat=True)[:MISSING_BATCH]
            )
            if not missing:
                return
            now = timezone.now()
            Server.objects.filter(id__any=missing).update(missing_upstream_since=now)
            events = [UpstreamEvent(sync_run=run, kind=UpstreamEventKind.MISSING_UPSTREAM, server_id=server_id,
                                    recorded_at=now) for server_id in missing]
            _events_insert(events)
            logger.warning("servers_missing_upstream", sync_run=run.pk, count=len(missing))
            mirror_changed.send(sender=SyncRun, sync_run=run, events=events, server_ids=set(missing))
            lock_confirm()
