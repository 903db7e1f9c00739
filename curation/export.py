"""The audit trail as CSV or JSON Lines, streamed row by row (for the admin and `audit_export`)."""

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from curation.models import AuditEvent

COLUMNS = ["id", "at", "actor", "actor_id", "source", "action", "server_name", "version", "before", "after",
           "reason"]
CHUNK_SIZE = 2000
# A spreadsheet runs a cell starting with one of these as a formula; upstream text is untrusted.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _record(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "at": event.at.isoformat(),
        "actor": event.actor_name,
        "actor_id": event.actor_id,
        "source": event.source,
        "action": event.action,
        "server_name": event.server_name,
        "version": event.version,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }


def _events(queryset: QuerySet[AuditEvent]) -> Iterator[AuditEvent]:
    return queryset.iterator(chunk_size=CHUNK_SIZE)


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    value = str(value)
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


class _Line:
    """A file-like object whose write() returns the text, so csv.writer yields lines."""

    def write(self, text):
        return text


def audit_csv_lines(queryset: QuerySet[AuditEvent]) -> Iterator[str]:
    """CSV text, header first. JSON columns hold compact JSON; formula-like cells get a leading quote."""
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for event in _events(queryset):
        record = _record(event)
        yield writer.writerow([_csv_cell(record[column]) for column in COLUMNS])


def audit_jsonl_lines(queryset: QuerySet[AuditEvent]) -> Iterator[str]:
    """One JSON object per line, values exactly as recorded."""
    for event in _events(queryset):
        yield json.dumps(_record(event), ensure_ascii=False) + "\n"


def _filename(extension: str) -> str:
    return f"audit-{timezone.now():%Y%m%dT%H%M%SZ}.{extension}"


def audit_csv_response(queryset: QuerySet[AuditEvent]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(audit_csv_lines(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


def audit_jsonl_response(queryset: QuerySet[AuditEvent]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(audit_jsonl_lines(queryset), content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("jsonl")}"'
    return response
