import httpx
import pytest
from django.conf import settings

from mirror.choices import SyncOutcome
from mirror.models import SyncRun
from mirror.tasks import mirror_sync
from tests.mirror.conftest import RETRY_ATTEMPTS


def test_beat_schedules_the_task_by_its_name():
    assert settings.CELERY_BEAT_SCHEDULE["mirror-sync"]["task"] == mirror_sync.name == "mirror.tasks.mirror_sync"
    assert 0 < mirror_sync.soft_time_limit < mirror_sync.time_limit


@pytest.mark.django_db
def test_the_task_runs_a_sync_and_returns_a_small_summary(upstream):
    upstream.publish("io.github.a/one", "1.0.0")

    result = mirror_sync.apply().get()

    run = SyncRun.objects.get()
    assert result == {"sync_run": run.pk, "outcome": SyncOutcome.SUCCEEDED}
    assert run.created == 1


@pytest.mark.django_db
def test_the_task_reports_a_failed_run_without_raising(upstream):
    upstream.faults.extend([httpx.Response(500)] * RETRY_ATTEMPTS)

    result = mirror_sync.apply(kwargs={"full": True}).get()

    assert result["outcome"] == SyncOutcome.FAILED
    assert SyncRun.objects.get().outcome == SyncOutcome.FAILED


@pytest.mark.django_db(transaction=True)
def test_the_task_skips_when_another_sync_is_running(upstream, hold_sync_lock):
    with hold_sync_lock():
        result = mirror_sync.apply().get()

    assert result == {"outcome": "skipped"}
    assert not SyncRun.objects.exists() and upstream.route.call_count == 0
