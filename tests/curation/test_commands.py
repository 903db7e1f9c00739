import csv
import io
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from curation.choices import AuditSource
from curation.models import AuditEvent, Listing, ServerCuration
from curation.selectors import servers_matching
from curation.services import version_block
from tests.curation.curation_support import actions, mirrored, server_state, user, version_state

pytestmark = pytest.mark.django_db

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def curate(*args) -> str:
    out = io.StringIO()
    call_command("curate", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_approve_one_server_as_cli_then_nothing_to_change():
    server = mirrored("io.github.acme/one")
    assert curate("approve", "io.github.acme/one", "--reason", "SEC-9") == "io.github.acme/one: approved.\n"
    assert server_state(server) == "approved"
    event = AuditEvent.objects.get()
    assert (event.actor_name, event.actor, event.source, event.reason) == ("cli", None, "cli", "SEC-9")
    assert "already was approved" in curate("approve", "io.github.acme/one", "--reason", "again")
    assert AuditEvent.objects.count() == 1


def test_actor_records_an_existing_user():
    mirrored("io.github.acme/one")
    alice = user("alice")
    curate("block", "io.github.acme/one", "--reason", "incident", "--actor", "alice")
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_name, event.source) == (alice, "alice", "cli")


def test_one_version():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    curate("approve", "io.github.acme/one", "--reason", "ok")
    assert curate("block", "io.github.acme/one", "--version", "1.1.0", "--reason", "CVE") == (
        "io.github.acme/one 1.1.0: blocked.\n")
    assert version_state(server.versions.get(version="1.1.0")) == "blocked"
    curate("pending", "io.github.acme/one", "--version", "1.1.0", "--reason", "fixed")
    assert version_state(server.versions.get(version="1.1.0")) == "pending"


@pytest.mark.parametrize("args, message", [
    (["approve", "io.github.acme/none", "--reason", "x"], "No server named 'io.github.acme/none'."),
    (["approve", "io.github.acme/one", "--version", "9.9.9", "--reason", "x"], "has no version '9.9.9'"),
    (["approve", "io.github.acme/one"], "--reason is required"),
    (["approve", "io.github.acme/one", "--reason", "   "], "--reason is required"),
    (["approve", "io.github.acme/one", "--reason", "x", "--actor", "ghost"], "--actor 'ghost': no such user."),
    (["approve", "io.github.nobody/*", "--reason", "x"], "No server matches 'io.github.nobody/*'."),
    (["approve", "io.github.acme/*", "--version", "1.0.0", "--reason", "x"], "--version needs an exact"),
    (["show", "io.github.acme/none"], "No server named"),
])
def test_errors_exit_non_zero_with_a_clear_message_and_change_nothing(args, message):
    mirrored("io.github.acme/one")
    with pytest.raises(CommandError, match=message.replace("*", r"\*").replace(".", r"\.").replace("(", r"\(")):
        curate(*args)
    assert not AuditEvent.objects.exists()


def test_glob_needs_yes_when_several_match_then_decides_in_bulk():
    for name in ("io.github.acme/a", "io.github.acme/b", "io.github.acme/c", "io.github.other/d"):
        mirrored(name)
    curate("approve", "io.github.acme/a", "--reason", "earlier")

    with pytest.raises(CommandError, match=r"3 servers match 'io\.github\.acme/\*'; add --yes"):
        curate("block", "io.github.acme/*", "--reason", "incident")
    assert curate("approve", "io.github.acme/*", "--reason", "batch", "--yes") == (
        "2 of 3 matching servers set to approved (1 already were).\n")
    assert set(ServerCuration.objects.filter(state="approved").values_list("server__name", flat=True)) == {
        "io.github.acme/a", "io.github.acme/b", "io.github.acme/c"}
    assert len(actions(reason="batch")) == 2


def test_a_glob_matching_one_server_needs_no_confirmation():
    mirrored("io.github.acme/a")
    assert curate("block", "io.github.acme/?", "--reason", "r") == (
        "1 of 1 matching server set to blocked (0 already were).\n")


GLOB_NAMES = ["io.github.acme/tool", "io.github.acme/tool-2", "io.github.acme.x/tool", "io.github.ACME/tool",
              "com.example/a+b (1)", "com.example/a.b", "com.example/[x]", "com.example/x^y", "com.example/back\\slash",
              "io.github.acme/t"]


@pytest.mark.parametrize("pattern", ["io.github.acme/*", "io.github.acme*", "*tool*", "io.github.acme/?", "*",
                                     "com.example/a+b (?)", "com.example/a.b", "com.example/[[]x]", "*[!a-z]*",
                                     "com.example/x^*", "com.example/[x", "*\\*", "io.github.[a-z]cme/tool",
                                     "com.example/[]x]*", "com.example/[!]]*", "*[^]*"])
def test_glob_selection_in_sql_matches_fnmatchcase(pattern):
    for name in GLOB_NAMES:
        mirrored(name)
    assert set(servers_matching(pattern).values_list("name", flat=True)) == {
        name for name in GLOB_NAMES if fnmatchcase(name, pattern)}


def test_show_prints_state_policy_versions_and_recent_audit():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    curate("approve", "io.github.acme/one", "--reason", "SEC-9")
    version_block(version=server.versions.get(version="1.1.0"), reason="CVE", actor_name="bob",
                  source=AuditSource.ADMIN)

    output = curate("show", "io.github.acme/one")

    assert "state: approved   version policy: All versions" in output
    assert "decided by cli at" in output and ": SEC-9" in output
    assert "1.0.0" in output and "1.1.0" in output
    lines = {line.split()[0]: line for line in output.splitlines() if line.startswith("    1.")}
    assert "curation blocked" in lines["1.1.0"] and "not served" in lines["1.1.0"]
    assert "curation pending" in lines["1.0.0"] and lines["1.0.0"].rstrip().endswith(" served")
    assert "bob (admin) version_blocked 1.1.0: CVE" in output


def test_show_a_server_curation_never_saw():
    mirrored("io.github.acme/new")
    assert "state: pending (never curated)" in curate("show", "io.github.acme/new")


# --- audit_export -----------------------------------------------------------------------------

@pytest.fixture
def two_events():
    AuditEvent.objects.create(at=datetime(2026, 1, 10, 9, tzinfo=timezone.utc), actor_name="alice",
                              source="admin", action="server_approved", server_name="io.github.acme/one")
    AuditEvent.objects.create(at=datetime(2026, 1, 12, 9, tzinfo=timezone.utc), actor_name="cli",
                              source="cli", action="server_blocked", server_name="io.github.acme/two")


def audit_export(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_export", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_audit_export_csv_by_default_oldest_first(two_events):
    out, err = audit_export()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["server_name"] for row in rows] == ["io.github.acme/one", "io.github.acme/two"]
    assert err.strip() == "Exported 2 audit events."


@pytest.mark.parametrize("since, names", [
    ("2026-01-11", ["io.github.acme/two"]),
    ("2026-01-12T09:00:00Z", ["io.github.acme/two"]),
    ("2026-01-12T10:00:00+02:00", ["io.github.acme/two"]),
    ("2026-01-12T09:00:01", []),
])
def test_audit_export_jsonl_since(two_events, since, names):
    out, err = audit_export("--since", since, "--format", "jsonl")
    assert [json.loads(line)["server_name"] for line in out.splitlines()] == names
    assert err.strip() == f"Exported {len(names)} audit event{'s' if len(names) != 1 else ''}."


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01", "12/01/2026"])
def test_audit_export_refuses_a_bad_since(since):
    with pytest.raises(CommandError, match="is not an ISO 8601 date or time"):
        audit_export("--since", since)


def test_audit_export_refuses_an_unknown_format():
    with pytest.raises(CommandError, match="invalid choice: 'xml'"):
        audit_export("--format", "xml")


@pytest.mark.django_db(transaction=True)
def test_audit_export_stops_quietly_when_its_reader_does():
    AuditEvent.objects.bulk_create(
        AuditEvent(actor_name="cli", source="cli", action="server_approved", server_name=f"io.github.acme/s{n}")
        for n in range(3000)  # more than a pipe holds, so the export is still writing when `head` leaves
    )
    test_database = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{connection.settings_dict['NAME']}")
    export = subprocess.Popen([sys.executable, MANAGE_PY, "audit_export"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**os.environ, "DATABASE_URL": test_database.geturl()})

    assert export.stdout.readline().startswith(b"id,")
    export.stdout.close()
    stderr = export.stderr.read().decode()

    assert export.wait() == 1
    assert "Error" not in stderr and "Traceback" not in stderr, stderr


# --- ensure_admin -----------------------------------------------------------------------------

def test_ensure_admin_reads_the_password_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "admin_password"
    secret.write_text("from-a-secret-file\n")
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD_FILE", str(secret))
    out = io.StringIO()

    call_command("ensure_admin", stdout=out)

    assert get_user_model().objects.get(username="admin").check_password("from-a-secret-file")
    assert "from-a-secret-file" not in out.getvalue()


def test_ensure_admin_keeps_a_generated_password_in_a_private_file(monkeypatch, tmp_path):
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD_FILE", raising=False)
    password_file = tmp_path / "admin_password"
    out = io.StringIO()

    call_command("ensure_admin", "--password-file", str(password_file), stdout=out)

    password = password_file.read_text().strip()
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password in out.getvalue() and str(password_file) in out.getvalue()
    call_command("ensure_admin", "--password-file", str(password_file), stdout=io.StringIO())
    assert password_file.read_text().strip() == password  # an existing superuser keeps its password


def test_the_cli_and_the_projection_agree():
    mirrored("io.github.acme/one")
    curate("approve", "io.github.acme/*", "--reason", "r")
    assert Listing.objects.get().is_served
