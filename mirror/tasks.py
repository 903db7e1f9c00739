import structlog
from celery import shared_task
from django.conf import settings

from mirror.services import SyncAlreadyRunning, sync_run_execute

logger = structlog.get_logger(__name__)

_SOFT_LIMIT = settings.MIRROR_SYNC_TIME_LIMIT.total_seconds()


@shared_task(name="mirror.tasks.mirror_sync", soft_time_limit=_SOFT_LIMIT, time_limit=_SOFT_LIMIT + 60)
def mirror_sync(full: bool = False) -> dict:
    """Beat's hourly sync. Outcomes live in SyncRun; the return value is only a summary."""
    try:
        run = sync_run_execute(full=full)
    except SyncAlreadyRunning:
        logger.info("sync_skipped", reason="another sync is running")
        return {"outcome": "skipped"}
    return {"sync_run": run.pk, "outcome": run.outcome}
