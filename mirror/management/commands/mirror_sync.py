import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from mirror.choices import SyncOutcome
from mirror.models import SyncRun
from mirror.services import SyncAlreadyRunning, sync_run_execute
from registry_project.env import registry_url_problem

EXIT_FAILED = 1
EXIT_ALREADY_RUNNING = 2


def sync_run_summary(run: SyncRun) -> str:
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    outcome = "succeeded" if run.outcome == SyncOutcome.SUCCEEDED else run.outcome
    return (
        f"{run.get_mode_display()} sync {outcome} in {seconds:.1f}s: {run.pages} pages, {run.created} created, "
        f"{run.changed} changed, {run.status_changed} status changed, {run.unchanged} unchanged, "
        f"{run.rejected} rejected"
    )


class Command(BaseCommand):
    help = (
        "Mirror the upstream MCP Registry once: full on the first run or with --full, else incremental. "
        f"Exits {EXIT_FAILED} when the sync fails and {EXIT_ALREADY_RUNNING} when another sync is running."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Page the whole upstream, not only what changed.")
        parser.add_argument("--upstream", metavar="URL", help="Upstream base URL (default: MIRROR_UPSTREAM_URL). A full run against another upstream "
                                 "adds and updates, but flags nothing missing upstream.")

    @staticmethod
    def _upstream_check(upstream: str) -> None:
        problem = registry_url_problem(upstream)
        max_length = SyncRun._meta.get_field("upstream_url").max_length
        if not problem and len(upstream.rstrip("/")) > max_length:
            problem = f"must not be longer than {max_length} characters"
        if problem:
            raise CommandError(f"--upstream {problem}")

    def handle(self, *args, full, upstream, **options):
        if upstream is not None:
            self._upstream_check(upstream)
        # The bar goes to stderr, so stdout carries only the summary line; log lines print above the bar.
        interactive = self.stdout.isatty() and sys.stderr.isatty()
        with (tqdm(unit=" pages", disable=not interactive, file=sys.stderr, leave=False, mininterval=0) as bar,
              logging_redirect_tqdm()):
            run = None

            def progress(current: SyncRun):
                nonlocal run
                run = current
                bar.set_postfix(created=run.created, changed=run.changed + run.status_changed,
                                rejected=run.rejected, refresh=False)
                bar.update(run.pages - bar.n)

            try:
                run = sync_run_execute(full=full, upstream_url=upstream, progress=progress)
            except SyncAlreadyRunning:
                raise CommandError("Another mirror sync is running; nothing was done.",
                                   returncode=EXIT_ALREADY_RUNNING) from None
            except Exception:
                if run is None:
                    raise
                run.refresh_from_db()  # recorded as failed, with the error; the traceback went to the log
        self.stdout.write(sync_run_summary(run))
        if run.outcome != SyncOutcome.SUCCEEDED:
            raise CommandError(run.error, returncode=EXIT_FAILED)
