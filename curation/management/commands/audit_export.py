import os
import sys
from datetime import datetime, timezone

from django.core.management.base import BaseCommand, CommandError

from curation.choices import AuditAction, AuditSource
from curation.export import audit_csv_lines, audit_jsonl_lines
from curation.selectors import audit_events

WRITERS = {"csv": audit_csv_lines, "jsonl": audit_jsonl_lines}


def _instant(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not an ISO 8601 date or time, e.g. 2025-12-01 or "
                           f"2025-12-01T09:30:00Z.") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)


class Command(BaseCommand):
    help = "Write the audit trail to stdout as CSV or JSON Lines, oldest event first."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Only events at or after this ISO 8601 time (UTC if no offset).")
        parser.add_argument("--until", help="Only events before this ISO 8601 time (UTC if no offset).")
        parser.add_argument("--format", choices=sorted(WRITERS), default="csv")
        parser.add_argument("--server", default="", help="Only events about this exact server name.")
        parser.add_argument("--action", choices=AuditAction.values, default="")
        parser.add_argument("--source", choices=AuditSource.values, default="")

    def handle(self, *args, **options):
        events = audit_events(
            since=_instant("--since", options["since"]), until=_instant("--until", options["until"]),
            server_name=options["server"], action=options["action"], source=options["source"],
        )
        lines = WRITERS[options["format"]](events)
        count = -1 if options["format"] == "csv" else 0
        try:
            for line in lines:
                self.stdout.write(line, ending="")
                count += 1
            self.stdout.flush()
        except BrokenPipeError:
            # The reader stopped early (`| head`). Python flushes stdout again at exit: send that to
            # /dev/null rather than into a second BrokenPipeError (the recipe in the `signal` docs).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        self.stderr.write(f"Exported {count} audit event{'s' if count != 1 else ''}.", style_func=None)
