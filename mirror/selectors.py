"""The mirror's reads."""

from mirror.choices import SyncOutcome
from mirror.models import SyncRun


def sync_run_last() -> SyncRun | None:
    """The most recent sync run, whatever its outcome (the admin index shows it)."""
    return SyncRun.objects.order_by("-started_at", "-id").first()


def sync_run_last_succeeded(*, upstream_url: str | None = None, mode: str | None = None) -> SyncRun | None:
    """The most recent successful run (against `upstream_url`, of `mode`, when given): the incremental
    high-water mark, or the last complete look at upstream."""
    runs = SyncRun.objects.filter(outcome=SyncOutcome.SUCCEEDED)
    if upstream_url is not None:
        runs = runs.filter(upstream_url=upstream_url)
    if mode is not None:
        runs = runs.filter(mode=mode)
    return runs.order_by("-started_at", "-id").first()
