"""One sync at a time. Transactional tests: the lock and the second sync live on other connections."""

import threading

import pytest
from django.db import connections

from mirror.choices import SyncOutcome
from mirror.models import ServerVersion, SyncRun
from mirror.services import SyncAlreadyRunning, sync_run_execute

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
