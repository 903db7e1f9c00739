import gc
import json
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as django_timezone
from structlog.testing import capture_logs

from mirror import selectors, services
from mirror.choices import SyncMode, SyncOutcome, UpstreamEventKind, UpstreamStatus
from mirror.models import Server, ServerVersion, SyncRun, UpstreamEvent
from mirror.services import sync_run_execute
from mirror.upstream import format_timestamp
from tests.factories import server_document
from tests.integration.upstream_double import FakeRegistry
from tests.mirror.conftest import RETRY_ATTEMPTS, T0, UPSTREAM, Upstream

pytestmark = pytest.mark.django_db


def versions_of(name: str) -> dict[str, ServerVersion]:
    return {v.version: v for v in ServerVersion.objects.filter(server__name=name)}


# --- Full, then incremental -------------------------------------------------------------------


def test_first_sync_is_full_and_stores_every_version(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.a/one", "1.1.0")
    upstream.publish("io.github.b/two", "0.1.0")

    run = sync_run_execute()

    assert (run.mode, run.outcome, run.error) == (SyncMode.FULL, SyncOutcome.SUCCEEDED, "")
    assert (run.pages, run.created, run.changed, run.unchanged, run.rejected) == (1, 3, 0, 0, 0)
    assert run.updated_since is None and run.finished_at is not None
    assert upstream.params == [{"limit": "100", "include_deleted": "true"}]
    one = versions_of("io.github.a/one")
    assert one["1.1.0"].is_latest and not one["1.0.0"].is_latest
    assert Server.objects.get(name="io.github.a/one").latest_version == one["1.1.0"]
    assert one["1.0.0"].published_at == T0 and one["1.0.0"].status == UpstreamStatus.ACTIVE
    kinds = sorted(UpstreamEvent.objects.filter(sync_run=run).values_list("kind", flat=True))
    assert kinds == [UpstreamEventKind.SERVER_DISCOVERED] * 2 + [UpstreamEventKind.VERSION_DISCOVERED] * 3


def test_later_sync_is_incremental_from_last_success_minus_margin(upstream, settings):
    settings.MIRROR_SAFETY_MARGIN = timedelta(minutes=7)
    upstream.publish("io.github.a/one", "1.0.0")
    first = sync_run_execute()
    upstream.publish("io.github.a/one", "1.1.0", at=django_timezone.now())

    with capture_logs() as logs:
        second = sync_run_execute()

    expected_since = first.started_at - timedelta(minutes=7)
    assert second.mode == SyncMode.INCREMENTAL and second.updated_since == expected_since
    started = next(log for log in logs if log["event"] == "sync_started")
    assert started["updated_since"] == expected_since.isoformat()  # readable in the log, not a repr
    assert upstream.params[-1] == {
        "limit": "100", "include_deleted": "true", "updated_since": format_timestamp(expected_since),
    }
    assert (second.created, second.unchanged, second.outcome) == (1, 0, SyncOutcome.SUCCEEDED)
    assert set(versions_of("io.github.a/one")) == {"1.0.0", "1.1.0"}


def test_a_scheduled_sync_is_full_once_the_last_full_run_is_older_than_the_interval(upstream, settings):
    settings.MIRROR_FULL_SYNC_INTERVAL = timedelta(days=1)
    upstream.publish("io.github.a/kept", "1.0.0")
    upstream.publish("io.github.b/gone", "1.0.0")
    first = sync_run_execute()
    upstream.registry.remove_all()
    upstream.publish("io.github.a/kept", "1.0.0")
    assert sync_run_execute().mode == SyncMode.INCREMENTAL  # a day has not passed
    SyncRun.objects.filter(pk=first.pk).update(started_at=first.started_at - timedelta(days=1, seconds=1))
    upstream.faults.extend([httpx.Response(503)] * RETRY_ATTEMPTS)  # this full run fails …
    assert (sync_run_execute().mode, SyncRun.objects.latest().outcome) == (SyncMode.FULL, SyncOutcome.FAILED)

    due = sync_run_execute()  # … so the next one is full again

    assert (due.mode, due.outcome, due.updated_since) == (SyncMode.FULL, SyncOutcome.SUCCEEDED, None)
    assert "updated_since" not in upstream.params[-1]
    assert Server.objects.get(name="io.github.b/gone").missing_upstream_since is not None
    assert sync_run_execute().mode == SyncMode.INCREMENTAL


@pytest.mark.parametrize(("official_change", "served_change"), [
    ({"updatedAt": "2026-01-02T00:00:00Z"}, False),  # upstream's own updatedAt is not what the API serves
    ({"statusChangedAt": "2026-01-02T00:00:00Z"}, True),
    ({"publishedAt": "2026-01-02T00:00:00Z"}, True),
])
def test_changed_at_moves_when_what_the_api_serves_changes(upstream, official_change, served_change):
    upstream.faults.append(httpx.Response(200, json={"servers": [entry("io.github.a/one")], "metadata": {}}))
    sync_run_execute()
    before = ServerVersion.objects.get()
    upstream.faults.append(httpx.Response(200, json={
        "servers": [entry("io.github.a/one", meta=official(**official_change))], "metadata": {}}))

    run = sync_run_execute(full=True)

    after = ServerVersion.objects.get()
    assert (run.changed, run.unchanged) == (1, 0)
    assert (after.changed_at > before.changed_at) is served_change


def test_full_flag_forces_a_full_sync_that_skips_unchanged_rows(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    before = ServerVersion.objects.get()

    run = sync_run_execute(full=True)

    after = ServerVersion.objects.get()
    assert (run.mode, run.created, run.changed, run.unchanged) == (SyncMode.FULL, 0, 0, 1)
    assert after.changed_at == before.changed_at
    assert after.last_seen_at > before.last_seen_at
    assert "updated_since" not in upstream.params[-1]


def test_incremental_high_water_mark_is_per_upstream(upstream, router, settings):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    other = router.get(host="other.test", path="/v0.1/servers").respond(
        200, json={"servers": [], "metadata": {"count": 0}}
    )

    run = sync_run_execute(upstream_url="https://other.test/")

    assert run.mode == SyncMode.FULL and run.upstream_url == "https://other.test"
    assert "updated_since" not in dict(other.calls.last.request.url.params)


def test_pages_follow_the_url_encoded_cursor_to_an_empty_final_page(upstream, settings):
    settings.MIRROR_PAGE_SIZE = 2
    for name in ("io.github.a/x", "io.github.b/y", "io.github.c/z", "io.github.d/w"):
        upstream.publish(name, "1.0.0")

    run = sync_run_execute()

    # Four entries in pages of two: the last full page is followed by an empty one.
    assert (run.pages, run.created) == (3, 4)
    urls = [str(call.request.url) for call in upstream.route.calls]
    assert "cursor=io.github.b%2Fy%3A1.0.0" in urls[1] and "cursor=io.github.d%2Fw%3A1.0.0" in urls[2]
    assert upstream.route.calls.last.response.json() == {"servers": [], "metadata": {"count": 0}}


def test_server_json_is_served_back_as_the_same_json_value_in_the_same_key_order(upstream, router):
    server = {
        "version": "2.0.0", "name": "io.github.zz/ordered", "description": "Zürich — 東京 \"quoted\" \\ back",
        "repository": {"source": "github", "url": "https://github.com/zz/ordered"},
        "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
        "_meta": {"io.modelcontextprotocol.registry/publisher-provided": {"z": 1, "a": [1.5, None, True]}},
    }
    upstream.registry.publish(server, at=T0)

    sync_run_execute()

    stored = ServerVersion.objects.get()
    sent = upstream.route.calls.last.response.content.decode()
    sent_server = json.loads(sent, object_pairs_hook=list)[0][1][0][0][1]  # servers[0].server, as pairs
    assert json.loads(stored.server_json, object_pairs_hook=list) == sent_server
    assert stored.server_json == json.dumps(server, ensure_ascii=False, separators=(",", ":"))
    assert stored.document == server


def test_timestamps_with_nanoseconds_and_offsets_are_parsed(upstream):
    entry = {
        "server": server_document("io.github.a/nano", "1.0.0"),
        "_meta": {"io.modelcontextprotocol.registry/official": {
            "status": "active", "statusChangedAt": "2025-12-12T09:30:00.123456789Z",
            "publishedAt": "2025-12-12T10:30:00.5+01:00", "updatedAt": "2025-12-12T09:30:01Z", "isLatest": True,
        }},
    }
    upstream.faults.append(httpx.Response(200, json={"servers": [entry], "metadata": {"count": 1}}))

    run = sync_run_execute()

    stored = ServerVersion.objects.get()
    assert run.created == 1
    assert stored.status_changed_at == datetime(2025, 12, 12, 9, 30, 0, 123456, tzinfo=timezone.utc)
    assert stored.published_at == datetime(2025, 12, 12, 9, 30, 0, 500000, tzinfo=timezone.utc)


# --- Status changes and isLatest ---------------------------------------------------------------


def test_status_change_to_deleted_is_applied_and_recorded(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    before = ServerVersion.objects.get()
    deleted_at = django_timezone.now()
    upstream.registry.set_status("io.github.a/one", "1.0.0", "deleted", at=deleted_at, message="Malware, see CVE-1")

    run = sync_run_execute()

    version = ServerVersion.objects.get()
    assert (run.status_changed, run.changed, run.created) == (1, 0, 0)
    assert version.status == UpstreamStatus.DELETED and version.status_message == "Malware, see CVE-1"
    assert version.status_changed_at == deleted_at and version.changed_at > before.changed_at
    event = UpstreamEvent.objects.get(kind=UpstreamEventKind.STATUS_CHANGED)
    assert (event.old_status, event.new_status, event.upstream_at, event.status_message) == (
        UpstreamStatus.ACTIVE, UpstreamStatus.DELETED, deleted_at, "Malware, see CVE-1"
    )
    assert (event.version, event.server, event.sync_run) == (version, version.server, run)


def test_a_deletion_is_applied_even_when_the_edited_server_json_fails_the_schema(upstream):
    """A takedown often edits the entry too; its new text is refused, but the deletion must not be."""
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.a/one", "2.0.0")
    sync_run_execute()
    stored = versions_of("io.github.a/one")["2.0.0"]
    row = upstream.registry.row("io.github.a/one", "2.0.0")
    row.server = {**row.server, "description": ""}
    deleted_at = django_timezone.now()
    upstream.registry.set_status("io.github.a/one", "2.0.0", "deleted", at=deleted_at, message="Malware")

    run = sync_run_execute()

    versions = versions_of("io.github.a/one")
    deleted = versions["2.0.0"]
    assert (deleted.status, deleted.status_message, deleted.status_changed_at) == (
        UpstreamStatus.DELETED, "Malware", deleted_at
    )
    assert deleted.server_json == stored.server_json and deleted.changed_at > stored.changed_at
    assert versions["1.0.0"].is_latest and not deleted.is_latest
    assert (run.rejected, run.status_changed, run.changed) == (1, 0, 0)
    assert "description" in run.rejections[0]["reason"]
    event = UpstreamEvent.objects.get(kind=UpstreamEventKind.STATUS_CHANGED)
    assert (event.version, event.old_status, event.new_status, event.status_message) == (
        deleted, UpstreamStatus.ACTIVE, UpstreamStatus.DELETED, "Malware"
    )


def test_an_edited_server_json_is_recorded_with_the_text_it_replaced(upstream, signal_calls):
    """Upstream's admin can edit a stored version (or a reset lets it be republished otherwise): never silently."""
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    stored = ServerVersion.objects.get()
    row = upstream.registry.row("io.github.a/one", "1.0.0")
    row.server = {**row.server, "description": "Now sends your files elsewhere"}
    row.updated_at = edited_at = django_timezone.now()

    run = sync_run_execute()

    version = ServerVersion.objects.get()
    assert json.loads(version.server_json)["description"] == "Now sends your files elsewhere"
    assert version.content_hash != stored.content_hash and version.changed_at > stored.changed_at
    assert (run.changed, run.status_changed, run.unchanged) == (1, 0, 0)
    event = UpstreamEvent.objects.get(kind=UpstreamEventKind.CONTENT_CHANGED)
    assert (event.sync_run, event.server, event.version, event.upstream_at) == (run, version.server, version, edited_at)
    assert event.previous_server_json == stored.server_json
    assert (event.old_status, event.new_status, event.status_message) == ("", "", "")
    sent = [e for e in signal_calls[-1]["events"] if e.kind == UpstreamEventKind.CONTENT_CHANGED]
    assert [(e.version_id, e.previous_server_json) for e in sent] == [(version.pk, stored.server_json)]


def test_a_version_whose_content_and_status_change_gets_both_events_and_counts_once(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    stored = ServerVersion.objects.get()
    row = upstream.registry.row("io.github.a/one", "1.0.0")
    row.server = {**row.server, "description": "Deprecated, use two"}
    upstream.registry.set_status("io.github.a/one", "1.0.0", "deprecated", at=django_timezone.now())

    run = sync_run_execute()

    assert (run.status_changed, run.changed) == (1, 0)
    assert sorted(UpstreamEvent.objects.filter(sync_run=run).values_list("kind", flat=True)) == [
        UpstreamEventKind.CONTENT_CHANGED, UpstreamEventKind.STATUS_CHANGED]
    assert UpstreamEvent.objects.get(kind=UpstreamEventKind.CONTENT_CHANGED).previous_server_json == stored.server_json


def test_a_metadata_only_change_records_no_content_change(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    upstream.registry.row("io.github.a/one", "1.0.0").updated_at = django_timezone.now()

    run = sync_run_execute()

    assert run.changed == 1
    assert not UpstreamEvent.objects.filter(sync_run=run).exists()


def test_old_latest_is_unflagged_locally_though_upstream_never_resends_it(upstream):
    upstream.publish("io.github.a/one", "1.9.0")
    sync_run_execute()
    assert versions_of("io.github.a/one")["1.9.0"].is_latest

    # 1.10.0 sorts before 1.9.0 as a string; upstream flips 1.9.0 without bumping its updatedAt.
    upstream.publish("io.github.a/one", "1.10.0", at=django_timezone.now())
    run = sync_run_execute()

    sent = [entry["server"]["version"] for entry in upstream.route.calls.last.response.json()["servers"]]
    assert sent == ["1.10.0"]
    versions = versions_of("io.github.a/one")
    assert versions["1.10.0"].is_latest and not versions["1.9.0"].is_latest
    assert Server.objects.get().latest_version == versions["1.10.0"]
    assert run.created == 1 and run.status_changed == 0


def test_deleting_the_latest_moves_latest_to_the_next_live_version(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.a/one", "2.0.0")
    sync_run_execute()

    upstream.registry.set_status("io.github.a/one", "2.0.0", "deleted", at=django_timezone.now())
    sync_run_execute()

    versions = versions_of("io.github.a/one")
    assert versions["1.0.0"].is_latest and not versions["2.0.0"].is_latest
    assert Server.objects.get().latest_version == versions["1.0.0"]


def test_signal_carries_the_page_events_and_touched_servers(upstream, signal_calls):
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.b/two", "1.0.0")
    run = sync_run_execute()
    one, two = Server.objects.order_by("name")

    assert len(signal_calls) == 1
    call = signal_calls[0]
    assert call["sync_run"] == run and call["server_ids"] == {one.pk, two.pk}
    discovered = {(e.kind, e.server_id, e.version_id) for e in call["events"]}
    assert discovered == {
        (UpstreamEventKind.SERVER_DISCOVERED, one.pk, one.versions.get().pk),
        (UpstreamEventKind.SERVER_DISCOVERED, two.pk, two.versions.get().pk),
        (UpstreamEventKind.VERSION_DISCOVERED, one.pk, one.versions.get().pk),
        (UpstreamEventKind.VERSION_DISCOVERED, two.pk, two.versions.get().pk),
    }
    stored = set(UpstreamEvent.objects.values_list("kind", "server_id", "version_id", "sync_run_id"))
    assert stored == {(kind, server, version, run.pk) for kind, server, version in discovered}

    sync_run_execute(full=True)
    assert len(signal_calls) == 1  # nothing changed: nothing to tell


def test_pages_are_committed_in_batches_of_about_mirror_batch_entries(upstream, settings, signal_calls):
    settings.MIRROR_PAGE_SIZE, settings.MIRROR_BATCH_ENTRIES = 2, 3
    for n in range(7):
        upstream.publish(f"io.github.b/s{n}", "1.0.0")

    run = sync_run_execute()

    # Pages of 2, 2, 2, 1: a batch takes the next page only while it stays within 3 entries (but holds at
    # least one page), so the last two pages share a batch.
    assert [len(call["server_ids"]) for call in signal_calls] == [2, 2, 3]
    assert (run.pages, run.created) == (4, 7)
    settings.MIRROR_BATCH_ENTRIES = 4
    upstream.publish("io.github.b/s0", "2.0.0", at=django_timezone.now())
    signal_calls.clear()

    full = sync_run_execute(full=True)

    assert [len(call["server_ids"]) for call in signal_calls] == [1]  # only the first batch changed anything
    assert (full.pages, full.created, full.unchanged) == (5, 1, 7)  # four full pages, then upstream's empty one


def test_a_failing_receiver_rolls_the_page_back_and_fails_the_run(upstream, signal_calls):
    from mirror.signals import mirror_changed

    def explode(sender, **kwargs):
        raise RuntimeError("receiver broke")

    mirror_changed.connect(explode, weak=False, dispatch_uid="test-explode")
    try:
        upstream.publish("io.github.a/one", "1.0.0")
        with pytest.raises(RuntimeError):
            sync_run_execute()
    finally:
        mirror_changed.disconnect(dispatch_uid="test-explode")

    run = SyncRun.objects.get()
    assert run.outcome == SyncOutcome.FAILED and "RuntimeError: receiver broke" in run.error
    assert not Server.objects.exists() and not ServerVersion.objects.exists() and run.pages == 0


@pytest.mark.parametrize("fault", [None, RuntimeError("receiver broke")])
def test_objects_frozen_for_the_collector_during_a_sync_are_handed_back(upstream, fault):
    from mirror.signals import mirror_changed

    frozen_during_sync = []

    def observe(sender, **kwargs):
        frozen_during_sync.append(gc.get_freeze_count())
        if fault:
            raise fault

    upstream.publish("io.github.a/one", "1.0.0")
    mirror_changed.connect(observe, weak=False, dispatch_uid="test-observe")
    try:
        with pytest.raises(type(fault)) if fault else nullcontext():
            sync_run_execute()
    finally:
        mirror_changed.disconnect(dispatch_uid="test-observe")

    assert frozen_during_sync and frozen_during_sync[0] > 0
    assert gc.get_freeze_count() == 0


def _session_setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


def test_documents_are_stored_with_lz4_where_the_server_has_it_and_session_settings_are_reset(upstream):
    with connection.cursor() as cursor:
        cursor.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        expected = "lz4" if "lz4" in cursor.fetchone()[0] else "pglz"
    before = {name: _session_setting(name) for name in ("default_toast_compression", "synchronous_commit")}
    notes = " ".join(f"note {i}" for i in range(600))  # compressible and past the 2 KB TOAST threshold
    upstream.publish("io.github.a/large", "1.0.0",
                     _meta={"io.modelcontextprotocol.registry/publisher-provided": {"notes": notes}})

    sync_run_execute()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(server_json), pg_column_compression(document) "
                       "FROM mirror_serverversion")
        assert cursor.fetchall() == [(expected, expected)]
    assert {name: _session_setting(name) for name in before} == before


def test_an_interrupt_fails_the_run_at_once_and_holds_the_mark(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.faults.append(KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):
        sync_run_execute()

    run = SyncRun.objects.get()
    assert (run.outcome, run.error) == (SyncOutcome.FAILED, "failed after 0 committed page(s): KeyboardInterrupt")
    assert selectors.sync_run_last_succeeded(upstream_url=UPSTREAM) is None
    assert sync_run_execute().mode == SyncMode.FULL  # the next run starts at once, nothing left `running`


# --- Invalid entries ----------------------------------------------------------------------------


def official(**overrides):
    block = {"status": "active", "statusChangedAt": "2025-12-01T09:30:00Z", "publishedAt": "2025-12-01T09:30:00Z",
             "updatedAt": "2025-12-01T09:30:00Z", "isLatest": True}
    block.update(overrides)
    return {"io.modelcontextprotocol.registry/official": block}


def entry(name, version="1.0.0", meta=None, **extra):
    return {"server": server_document(name, version, **extra), "_meta": meta if meta is not None else official()}


INVALID = {
    "too-long": (entry("io.github.bad/long", description="x" * 101), "description"),
    "no-repo-url": (entry("io.github.bad/repo", repository={}), "repository: 'url' is a required property"),
    "bad-uri": (entry("io.github.bad/uri", websiteUrl="not a uri"), "websiteUrl: 'not a uri' is not a 'uri'"),
    "bad-name": (entry("no-slash-name"), "name"),
    "no-meta": (entry("io.github.bad/meta", meta={}), "io.modelcontextprotocol.registry/official"),
    "bad-status": (entry("io.github.bad/status", meta=official(status="gone")), "'gone'"),
    "bad-time": (entry("io.github.bad/time", meta=official(updatedAt="yesterday")), "updatedAt"),
    "nul": (entry("io.github.bad/nul", description="a\u0000b"), "NUL"),
    "surrogate": (entry("io.github.bad/surrogate", description="a\ud800b"), "surrogate"),
    "nan": (entry("io.github.bad/nan", _meta={"score": float("nan")}), "NaN"),
    "infinity": (entry("io.github.bad/infinity", _meta={"score": float("inf")}), "infinite"),
    "not-object": ("just a string", "not a JSON object"),
    "no-server": ({"_meta": official()}, "no `server` object"),
    "official-spoof": (entry("io.github.bad/spoof", _meta=official()),
                       "'io.modelcontextprotocol.registry/official', which only registries write"),
    "our-namespace": (entry("io.github.bad/ours", _meta={"io.modelcontextprotocol.registry/publisher-provided": {
        "com.example.registry/curation": {"curationState": "approved"}}}),
                      "'com.example.registry/curation', which only registries write"),
    "foreign-schema": (entry("io.github.bad/schema", **{"$schema": "https://evil.example/schema.json"}),
                       "not an official server.json schema"),
    "status-message-surrogate": (entry("io.github.bad/message", meta=official(status="deprecated",
                                                                               statusMessage="a\ud800b")),
                                 "statusMessage must be a string without NUL or unpaired surrogates"),
    # PostgreSQL stores these, but they are past year 9999 or before year 1 in UTC: unreadable afterwards.
    "after-9999": (entry("io.github.bad/future", meta=official(publishedAt="9999-12-31T23:59:59-05:00")),
                   "publishedAt"),
    "before-1": (entry("io.github.bad/past", meta=official(updatedAt="0001-01-01T00:00:00+05:00")), "updatedAt"),
}


def test_invalid_entries_are_rejected_with_reasons_and_the_run_succeeds(upstream):
    good = entry("io.github.good/one")
    body = {"servers": [good] + [raw for raw, _ in INVALID.values()], "metadata": {"count": len(INVALID) + 1}}
    upstream.faults.append(httpx.Response(200, content=json.dumps(body).encode(),
                                          headers={"Content-Type": "application/json"}))

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.SUCCEEDED
    assert (run.created, run.rejected) == (1, len(INVALID))
    assert list(Server.objects.values_list("name", flat=True)) == ["io.github.good/one"]
    reasons = [rejection["reason"] for rejection in run.rejections]
    for key, (_, expected) in INVALID.items():
        assert any(expected in reason for reason in reasons), (key, reasons)
    assert {"name": "io.github.bad/uri", "version": "1.0.0",
            "reason": "websiteUrl: 'not a uri' is not a 'uri'"} in run.rejections


@pytest.mark.parametrize(("name", "version", "recorded_name", "recorded_version"), [
    ("io.github.bad/n\u0000ul", "1.0.0", "io.github.bad/n\\x00ul", "1.0.0"),
    ("io.github.bad/s\ud800", "1.0.0", "io.github.bad/s\\ud800", "1.0.0"),
    ("io.github.bad/version", "1.0\u0000", "io.github.bad/version", "1.0\\x00"),
    ("io.github.bad/version", "1.0\udc00", "io.github.bad/version", "1.0\\udc00"),
])
def test_a_name_or_version_that_cannot_be_stored_is_rejected_and_recorded_escaped(
    upstream, name, version, recorded_name, recorded_version
):
    body = {"servers": [entry("io.github.good/one"), entry(name, version)], "metadata": {"count": 2}}
    upstream.faults.append(httpx.Response(200, content=json.dumps(body).encode()))

    run = sync_run_execute()

    assert (run.outcome, run.created, run.rejected) == (SyncOutcome.SUCCEEDED, 1, 1)
    [rejection] = SyncRun.objects.get().rejections
    assert (rejection["name"], rejection["version"]) == (recorded_name, recorded_version)
    assert list(Server.objects.values_list("name", flat=True)) == ["io.github.good/one"]


def test_a_registry_namespace_as_a_value_is_not_a_spoof(upstream):
    note = {"io.modelcontextprotocol.registry/publisher-provided": {
        "see": ["io.modelcontextprotocol.registry/official", "com.example.registry/curation"]}}
    upstream.publish("io.github.a/notes", "1.0.0", _meta=note)

    run = sync_run_execute()

    assert (run.created, run.rejected) == (1, 0)
    assert ServerVersion.objects.get().document["_meta"] == note


def nested_publisher_meta(name, depth):
    """Raw entry text whose publisher `_meta` nests `depth` arrays: too deep to build with json.dumps."""
    text = json.dumps(entry(name, _meta={"io.modelcontextprotocol.registry/publisher-provided": {"x": "DEEP"}}))
    return text.replace('"DEEP"', "[" * depth + "]" * depth)


# `server` (1) › `_meta` (2) › publisher-provided (3) › "x": the arrays start at level 4.
DEEPEST_ARRAYS = services.MAX_SERVER_NESTING - 3


def test_an_entry_nested_too_deeply_is_rejected_alone(upstream):
    """4 KB of publisher `_meta` (upstream's cap) holds 2,000 levels, more than json.loads can recurse."""
    page = '{"servers": [%s, %s, %s, %s], "metadata": {"count": 4}}' % (
        json.dumps(entry("io.github.good/flat")), nested_publisher_meta("io.github.bad/deep", 2000),
        nested_publisher_meta("io.github.bad/one-too-deep", DEEPEST_ARRAYS + 1),
        nested_publisher_meta("io.github.good/nested", DEEPEST_ARRAYS))
    upstream.faults.append(httpx.Response(200, content=page.encode()))

    run = sync_run_execute()

    assert (run.outcome, run.created, run.rejected) == (SyncOutcome.SUCCEEDED, 2, 2)
    reason = f"`server` is nested more than {services.MAX_SERVER_NESTING} levels deep"
    assert run.rejections == [{"name": "io.github.bad/deep", "version": "1.0.0", "reason": reason},
                              {"name": "io.github.bad/one-too-deep", "version": "1.0.0", "reason": reason}]
    nested = ServerVersion.objects.get(server__name="io.github.good/nested")
    arrays = "[" * DEEPEST_ARRAYS + "]" * DEEPEST_ARRAYS
    assert arrays in nested.server_json and json.loads(nested.server_json) == nested.document


def test_a_changed_version_is_stored_from_its_text_however_deep(upstream):
    upstream.faults.append(httpx.Response(200, content=(
        '{"servers": [%s], "metadata": {"count": 1}}' % nested_publisher_meta("io.github.a/deep", 1)).encode()))
    sync_run_execute()
    upstream.faults.append(httpx.Response(200, content=(
        '{"servers": [%s], "metadata": {"count": 1}}'
        % nested_publisher_meta("io.github.a/deep", DEEPEST_ARRAYS)).encode()))

    run = sync_run_execute(full=True)

    assert (run.changed, run.rejected) == (1, 0)
    stored = ServerVersion.objects.get()
    assert json.loads(stored.server_json) == stored.document
    assert "[" * DEEPEST_ARRAYS in stored.server_json


def test_stored_rejections_are_capped_but_all_are_counted(upstream, monkeypatch):
    monkeypatch.setattr(services, "REJECTIONS_KEPT", 2)
    for n in range(5):
        upstream.publish(f"io.github.bad/long-{n}", "1.0.0", description="x" * 101)

    run = sync_run_execute()

    assert (run.rejected, len(run.rejections), run.created) == (5, 2, 0)


def test_a_duplicate_within_a_page_is_rejected(upstream):
    body = {"servers": [entry("io.github.a/dup"), entry("io.github.a/dup")], "metadata": {"count": 2}}
    upstream.faults.append(httpx.Response(200, json=body))

    run = sync_run_execute()

    assert (run.created, run.rejected) == (1, 1)
    assert "twice" in run.rejections[0]["reason"]


# --- Faults -------------------------------------------------------------------------------------

TRANSIENT = {
    "500": httpx.Response(500, json={"title": "Internal Server Error"}),
    "503": httpx.Response(503),
    "429": httpx.Response(429, headers={"Retry-After": "3"}),
    "timeout": httpx.ReadTimeout("timed out"),
    "connect": httpx.ConnectError("refused"),
    "undecodable": httpx.DecodingError("invalid gzip stream"),
    "truncated": httpx.Response(200, content=b'{"servers": [{"server": {"na'),
    "nested-too-deep": httpx.Response(200, content=b'{"servers": ' + b"[" * 100_000),
    "servers-not-list": httpx.Response(200, json={"servers": {}, "metadata": {}}),
    "metadata-not-object": httpx.Response(200, json={"servers": [], "metadata": []}),
    "not-an-object": httpx.Response(200, json=[1, 2]),
    "empty-cursor": httpx.Response(200, json={"servers": [], "metadata": {"nextCursor": ""}}),
    "surrogate-cursor": httpx.Response(200, content=b'{"servers": [], "metadata": {"nextCursor": "a/b:\\ud800"}}'),
    "nul-cursor": httpx.Response(200, content=b'{"servers": [], "metadata": {"nextCursor": "a/b:\\u0000"}}'),
}


@pytest.mark.parametrize("fault", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_faults_are_retried_then_the_sync_succeeds(upstream, fault):
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.faults.extend([fault, fault])

    run = sync_run_execute()

    assert (run.outcome, run.created) == (SyncOutcome.SUCCEEDED, 1)
    assert upstream.route.call_count == 3


@pytest.mark.parametrize("fault", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_exhausted_retries_fail_the_run_keep_committed_pages_and_hold_the_mark(upstream, settings, fault):
    settings.MIRROR_PAGE_SIZE = 1
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.b/two", "1.0.0")
    good = sync_run_execute()
    upstream.publish("io.github.c/three", "1.0.0", at=django_timezone.now())
    upstream.publish("io.github.d/four", "1.0.0", at=django_timezone.now())
    # Page 1 of the incremental run answers, then page 2 fails every attempt.
    status, page_one = upstream.registry.respond({"limit": "1", "updated_since": "2025-12-02T00:00:00Z"})
    upstream.faults.extend([httpx.Response(status, json=page_one)] + [fault] * RETRY_ATTEMPTS)

    failed = sync_run_execute()

    assert failed.outcome == SyncOutcome.FAILED and failed.finished_at is not None
    assert failed.error.startswith("failed after 1 committed page(s): upstream GET https://upstream.test/v0.1/")
    assert f"failed after {RETRY_ATTEMPTS} attempt(s)" in failed.error
    assert (failed.pages, failed.created) == (1, 1)
    assert Server.objects.filter(name="io.github.c/three").exists()
    assert not Server.objects.filter(name="io.github.d/four").exists()
    assert selectors.sync_run_last_succeeded() == good

    catch_up = sync_run_execute()

    assert catch_up.updated_since == good.started_at - settings.MIRROR_SAFETY_MARGIN
    assert catch_up.outcome == SyncOutcome.SUCCEEDED
    assert Server.objects.filter(name="io.github.d/four").exists()


def test_a_client_error_fails_at_once_without_retrying(upstream):
    upstream.faults.append(httpx.Response(400, json={"title": "Bad Request", "detail": "Invalid updated_since"}))

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.FAILED and "HTTP 400 Bad Request" in run.error
    assert "Invalid updated_since" in run.error and upstream.route.call_count == 1


def test_an_error_body_that_cannot_be_stored_is_recorded_escaped(upstream):
    upstream.faults.append(httpx.Response(404, content=b'{"title":"Not Found","detail":"x\x00y\xed\xa0\x80"}'))

    run = sync_run_execute()

    assert SyncRun.objects.get().outcome == SyncOutcome.FAILED
    assert "answered HTTP 404 Not Found" in run.error and '"detail":"x\\x00y' in run.error


def test_a_repeated_cursor_aborts_the_run(upstream):
    page = {"servers": [entry("io.github.a/loop")], "metadata": {"nextCursor": "io.github.a/loop:1.0.0", "count": 1}}
    upstream.faults.extend([httpx.Response(200, json=page), httpx.Response(200, json=page)])

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.FAILED
    assert "repeated the cursor 'io.github.a/loop:1.0.0'" in run.error
    assert (run.pages, run.created, run.unchanged) == (2, 1, 1)
    assert upstream.route.call_count == 2


def test_an_absurd_page_count_aborts_the_run(upstream, settings):
    settings.MIRROR_PAGE_SIZE = 1
    settings.MIRROR_MAX_PAGES = 3
    for n in range(5):
        upstream.publish(f"io.github.a/s{n}", "1.0.0")

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.FAILED and "MIRROR_MAX_PAGES" in run.error
    assert (run.pages, run.created, upstream.route.call_count) == (3, 3, 3)
    assert not Server.objects.filter(missing_upstream_since__isnull=False).exists()


def test_an_interrupted_run_is_closed_by_the_next_one(upstream):
    stale = SyncRun.objects.create(mode=SyncMode.FULL, upstream_url=UPSTREAM)

    run = sync_run_execute()

    stale.refresh_from_db()
    assert stale.outcome == SyncOutcome.FAILED and "interrupted" in stale.error
    assert run.outcome == SyncOutcome.SUCCEEDED and run.mode == SyncMode.FULL


# --- Upstream data reset ------------------------------------------------------------------------


def test_a_data_reset_flags_missing_servers_and_keeps_them_until_they_reappear(upstream, signal_calls):
    upstream.publish("io.github.a/kept", "1.0.0")
    upstream.publish("io.github.b/gone", "1.0.0")
    upstream.publish("io.github.b/gone", "1.1.0")
    sync_run_execute()
    upstream.registry.remove_all()
    upstream.publish("io.github.a/kept", "1.0.0")

    incremental = sync_run_execute()
    assert not Server.objects.filter(missing_upstream_since__isnull=False).exists()  # only a full run can tell

    reset = sync_run_execute(full=True)

    gone = Server.objects.get(name="io.github.b/gone")
    assert incremental.mode == SyncMode.INCREMENTAL and reset.outcome == SyncOutcome.SUCCEEDED
    assert gone.missing_upstream_since is not None and gone.versions.count() == 2
    assert Server.objects.get(name="io.github.a/kept").missing_upstream_since is None
    missing = UpstreamEvent.objects.get(kind=UpstreamEventKind.MISSING_UPSTREAM)
    assert (missing.server, missing.sync_run) == (gone, reset)
    sent = [(event.kind, event.server_id, event.sync_run_id) for event in signal_calls[-1]["events"]]
    assert sent == [(missing.kind, gone.pk, reset.pk)] and signal_calls[-1]["server_ids"] == {gone.pk}

    sync_run_execute(full=True)  # still missing: flagged once, not again
    assert UpstreamEvent.objects.filter(kind=UpstreamEventKind.MISSING_UPSTREAM).count() == 1

    upstream.publish("io.github.b/gone", "1.0.0")
    back = sync_run_execute(full=True)

    gone.refresh_from_db()
    assert gone.missing_upstream_since is None
    reappeared = UpstreamEvent.objects.get(kind=UpstreamEventKind.REAPPEARED_UPSTREAM)
    assert (reappeared.server, reappeared.sync_run) == (gone, back)
    assert back.unchanged == 2 and back.created == 0


def test_a_full_sync_against_another_upstream_flags_nothing_missing(upstream, router):
    """`mirror_sync --full --upstream X` adds what X has; only MIRROR_UPSTREAM_URL's listing says what is gone."""
    upstream.publish("io.github.a/main-only", "1.0.0")
    sync_run_execute()
    other = Upstream(router, FakeRegistry(), host="other.test")
    other.publish("io.github.a/other-only", "1.0.0")

    run = sync_run_execute(full=True, upstream_url="https://other.test")

    assert (run.mode, run.outcome, run.created) == (SyncMode.FULL, SyncOutcome.SUCCEEDED, 1)
    assert not Server.objects.filter(missing_upstream_since__isnull=False).exists()
    assert not UpstreamEvent.objects.filter(kind=UpstreamEventKind.MISSING_UPSTREAM).exists()
    # The configured upstream's own full listing still flags what it no longer has.
    sync_run_execute(full=True)
    assert list(Server.objects.filter(missing_upstream_since__isnull=False).values_list("name", flat=True)) == [
        "io.github.a/other-only"
    ]


def test_a_server_whose_entries_are_all_rejected_is_not_missing(upstream):
    upstream.publish("io.github.a/schema-broke", "1.0.0")
    upstream.publish("io.github.b/meta-broke", "1.0.0")
    sync_run_execute()
    upstream.faults.append(httpx.Response(200, json={"servers": [
        entry("io.github.a/schema-broke", repository={}),  # fails the schema
        entry("io.github.b/meta-broke", meta=official(status="gone")),  # fails before it
    ], "metadata": {"count": 2}}))

    reset = sync_run_execute(full=True)

    assert (reset.outcome, reset.rejected) == (SyncOutcome.SUCCEEDED, 2)
    assert not Server.objects.filter(missing_upstream_since__isnull=False).exists()
    assert not UpstreamEvent.objects.filter(kind=UpstreamEventKind.MISSING_UPSTREAM).exists()
    assert all(v.content_hash for v in ServerVersion.objects.all()) and ServerVersion.objects.count() == 2


def test_a_failed_full_sync_flags_nothing_missing(upstream, settings):
    settings.MIRROR_PAGE_SIZE = 1
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.b/two", "1.0.0")
    sync_run_execute()
    upstream.faults.extend([httpx.Response(503)] * RETRY_ATTEMPTS)

    run = sync_run_execute(full=True)

    assert run.outcome == SyncOutcome.FAILED
    assert not Server.objects.filter(missing_upstream_since__isnull=False).exists()


# --- Query counts -------------------------------------------------------------------------------


def test_a_batch_costs_a_constant_number_of_queries(upstream, signal_calls, django_assert_max_num_queries):
    for n in range(50):
        upstream.publish(f"io.github.q/s{n:02d}", "1.0.0")
        upstream.publish(f"io.github.q/s{n:02d}", "1.1.0")
    with django_assert_max_num_queries(30):
        created = sync_run_execute()
    for n in range(50):
        upstream.registry.set_status(f"io.github.q/s{n:02d}", "1.1.0", "deprecated", at=django_timezone.now())
    with django_assert_max_num_queries(30):
        changed = sync_run_execute()
    with django_assert_max_num_queries(20):
        unchanged = sync_run_execute(full=True)

    assert (created.created, changed.status_changed, unchanged.unchanged) == (100, 50, 100)


def test_the_replaced_texts_cost_one_query_and_only_when_content_changed(upstream, signal_calls):
    for n in range(20):
        upstream.publish(f"io.github.q/s{n:02d}", "1.0.0")
    sync_run_execute()

    def changed_sync(edit) -> int:
        for n in range(10):
            edit(upstream.registry.row(f"io.github.q/s{n:02d}", "1.0.0"))
        with CaptureQueriesContext(connection) as queries:
            assert sync_run_execute().changed == 10
        return len(queries.captured_queries)

    def touch(row):
        row.updated_at = django_timezone.now()

    def edit(row):
        row.server = {**row.server, "description": "Edited upstream"}
        touch(row)

    metadata_only, content = changed_sync(touch), changed_sync(edit)

    # New texts need the schema, read once to validate them, and the texts they replace, read in one query.
    assert content == metadata_only + 2
    assert UpstreamEvent.objects.filter(kind=UpstreamEventKind.CONTENT_CHANGED).count() == 10


def test_a_worker_clock_ahead_of_the_database_flags_nothing_missing(upstream, monkeypatch):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    ahead = django_timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(django_timezone, "now", lambda: ahead)
    monkeypatch.setattr(SyncRun._meta.get_field("started_at"), "_get_default", lambda: ahead)

    run = sync_run_execute(full=True)

    assert run.outcome == SyncOutcome.SUCCEEDED and run.started_at < ahead
    assert not Server.objects.filter(missing_upstream_since__isnull=False).exists()
