"""One sync at a time. Transactional tests: the lock and the second sync live on other connections."""

import threading

import pytest
from django.db import connection, connections

from mirror.choices import SyncOutcome
from mirror.models import ServerVersion, SyncRun
from mirror.services import SYNC_LOCK_KEY, SyncAlreadyRunning, sync_run_execute

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_sync_while_another_holds_the_lock_returns_at_once(upstream, signal_calls, hold_sync_lock):
    upstream.publish("io.github.a/one", "1.0.0")
    with hold_sync_lock():
        with pytest.raises(SyncAlreadyRunning, match="another mirror sync is running"):
            sync_run_execute()

        assert not SyncRun.objects.exists() and upstream.route.call_count == 0

    # The holder let go, so the lock is free again.
    assert sync_run_execute().outcome == SyncOutcome.SUCCEEDED


def test_two_real_syncs_at_once_the_second_leaves_without_waiting(upstream, signal_calls):
    upstream.publish("io.github.a/one", "1.0.0")
    first_is_paging, release_first = threading.Event(), threading.Event()
    respond = upstream.route.side_effect

    def slow_upstream(request):
        first_is_paging.set()
        assert release_first.wait(timeout=30)
        return respond(request)

    upstream.route.side_effect = slow_upstream
    outcome = {}

    def first_sync():
        try:
            outcome["run"] = sync_run_execute()
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_sync)
    thread.start()
    try:
        assert first_is_paging.wait(timeout=30)
        with pytest.raises(SyncAlreadyRunning):
            sync_run_execute()
        # The first run's row is untouched by the second attempt.
        running = SyncRun.objects.get()
        assert running.outcome == SyncOutcome.RUNNING and running.error == ""
    finally:
        release_first.set()
        thread.join(timeout=30)

    assert outcome["run"].outcome == SyncOutcome.SUCCEEDED and ServerVersion.objects.count() == 1
    assert SyncRun.objects.count() == 1
    assert upstream.route.call_count == 1


def _lock_holder_terminate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s", [SYNC_LOCK_KEY],
        )
        assert cursor.fetchone()[0]


def test_a_sync_whose_lock_session_ends_stops_before_committing_more(upstream, signal_calls):
    """Once its lock is gone a second sync can start beside it, so it must not go on writing."""
    upstream.publish("io.github.a/one", "1.0.0")

    def progress(run):
        if run.pages == 0:  # recorded, nothing written yet
            _lock_holder_terminate()

    run = sync_run_execute(progress=progress)

    assert run.outcome == SyncOutcome.FAILED
    assert "sync lock's database session ended mid-run" in run.error
    assert not ServerVersion.objects.exists() and run.pages == 0
    # The lock is free, and the next run catches up from scratch.
    assert sync_run_execute().outcome == SyncOutcome.SUCCEEDED and ServerVersion.objects.count() == 1

