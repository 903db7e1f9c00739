import csv
import io
import json
import uuid
from datetime import datetime, timezone

import pytest
from django.db import DatabaseError, connection, transaction

from curation import services
from curation.choices import AuditSource
from curation.export import audit_csv_lines, audit_csv_response, audit_jsonl_lines, audit_jsonl_response
from curation.models import AuditEvent
from curation.selectors import audit_events, recent_audit_events
from tests.curation.curation_support import mirrored, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return AuditEvent.objects.create(actor_name="alice", source="admin", action="server_approved",
                                     server_name="io.github.acme/one", reason="ok")


@pytest.mark.parametrize("statement", [
    "UPDATE curation_auditevent SET reason = 'forged'",
    "UPDATE curation_auditevent SET actor_name = 'mallory', actor_id = NULL",
    "DELETE FROM curation_auditevent",
    "TRUNCATE curation_auditevent",
])
def test_the_database_refuses_to_alter_audit_rows(event, statement):
    with pytest.raises(DatabaseError, match="curation_auditevent is append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            # Opt out of the test-database allowance; fire the deferred FK checks of the insert first.
            cursor.execute("SET LOCAL registry.audit_truncate = 'off'; SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(statement)
    event.refresh_from_db()
    assert (event.reason, event.actor_name) == ("ok", "alice")


class _RolledBack(Exception):
    pass


@pytest.fixture
def probe_role():
    """A role created for one test (and dropped after it), named so parallel runs never share it."""
    name = f"registry_probe_{uuid.uuid4().hex[:12]}"
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {name}")


def _truncate_as(role: str, *, member_of_owner: bool) -> None:
    """TRUNCATE the audit trail as `role` with the escape hatch set, in a transaction that is rolled back."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"GRANT SELECT, TRUNCATE ON curation_auditevent TO {role}")
        if member_of_owner:
            cursor.execute("SELECT relowner::regrole::text FROM pg_class WHERE oid = 'curation_auditevent'::regclass")
            cursor.execute(f"GRANT {cursor.fetchone()[0]} TO {role}")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute("SET LOCAL registry.audit_truncate = 'on'")
        cursor.execute("TRUNCATE curation_auditevent")
        raise _RolledBack


def test_the_truncate_escape_hatch_is_refused_to_a_role_that_does_not_own_the_table(event, probe_role):
    with pytest.raises(DatabaseError, match="curation_auditevent is append-only: TRUNCATE refused"):
        _truncate_as(probe_role, member_of_owner=False)
    assert AuditEvent.objects.filter(pk=event.pk, reason="ok").exists()


def test_the_truncate_escape_hatch_still_serves_members_of_the_owner_role(event, probe_role):
    with pytest.raises(_RolledBack):
        _truncate_as(probe_role, member_of_owner=True)
    assert AuditEvent.objects.filter(pk=event.pk).exists()  # rolled back


def test_the_orm_cannot_alter_audit_rows_either(event):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk, reason="ok").exists()


def test_deleting_a_user_keeps_their_events_with_the_copied_name():
    alice = user("alice")
    services.server_approve(server=mirrored("io.github.acme/one"), reason="ok", actor=alice,
                            source=AuditSource.ADMIN)
    alice.delete()
    event = AuditEvent.objects.get()
    assert (event.actor_id, event.actor_name, event.reason) == (None, "alice", "ok")


def _events():
    first = AuditEvent.objects.create(at=datetime(2026, 1, 10, 9, tzinfo=timezone.utc), actor_name="alice",
                                      source="admin", action="server_approved", server_name="io.github.acme/one",
                                      before={"state": "pending"}, after={"state": "approved"}, reason="SEC-1, ok")
    second = AuditEvent.objects.create(at=datetime(2026, 1, 12, 9, tzinfo=timezone.utc), actor_name="sync",
                                       source="sync", action="upstream_status_changed",
                                       server_name="io.github.acme/two", version="1.0.0",
                                       before={"status": "active"}, after={"status": "deleted"},
                                       reason="=HYPERLINK(\"http://evil\")\nline two")
    return first, second


def test_csv_export_round_trips_and_defuses_formulas():
    first, second = _events()
    rows = list(csv.DictReader(io.StringIO("".join(audit_csv_lines(audit_events())))))
    assert [row["id"] for row in rows] == [str(first.pk), str(second.pk)]
    assert rows[0]["at"] == "2026-01-10T09:00:00+00:00" and rows[0]["reason"] == "SEC-1, ok"
    assert json.loads(rows[0]["after"]) == {"state": "approved"}
    assert rows[1]["reason"] == "'=HYPERLINK(\"http://evil\")\nline two"
    assert rows[1]["version"] == "1.0.0" and rows[1]["actor_id"] == ""


def test_jsonl_export_keeps_values_exactly():
    first, second = _events()
    records = [json.loads(line) for line in audit_jsonl_lines(audit_events())]
    assert records[1] == {
        "id": second.pk, "at": "2026-01-12T09:00:00+00:00", "actor": "sync", "actor_id": None, "source": "sync",
        "action": "upstream_status_changed", "server_name": "io.github.acme/two", "version": "1.0.0",
        "before": {"status": "active"}, "after": {"status": "deleted"},
        "reason": "=HYPERLINK(\"http://evil\")\nline two",
    }


def test_export_responses_stream_attachments():
    _events()
    csv_response = audit_csv_response(AuditEvent.objects.all())
    jsonl_response = audit_jsonl_response(AuditEvent.objects.all())
    assert csv_response.streaming and csv_response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="audit-' in csv_response["Content-Disposition"]
    assert b"".join(csv_response.streaming_content).count(b"\n") >= 3
    assert len(b"".join(jsonl_response.streaming_content).splitlines()) == 2


def test_audit_event_filters():
    first, second = _events()
    assert list(audit_events(since=datetime(2026, 1, 11, tzinfo=timezone.utc))) == [second]
    assert list(audit_events(until=datetime(2026, 1, 11, tzinfo=timezone.utc))) == [first]
    assert list(audit_events(server_name="io.github.acme/one")) == [first]
    assert list(audit_events(action="upstream_status_changed", source="sync", actor_name="sync")) == [second]
    assert recent_audit_events(1) == [second]
