"""The floor under a full sync (not a test). See bench/README.md, "Mirror benchmark".

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reg_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
    DJANGO_SECRET_KEY=bench .venv/bin/python bench/mirror_floor.py [--servers 10000] [--versions 5]

Times only what any sync of mirror_bench.py's data must do, streamed page by page as the sync does:
`json.loads` of each pre-rendered page, the sync's own entry checks and canonical `server.json`
text with its hash (`_entry_parse`), the schema check, and storing the servers and version rows
(text and JSONB) with the sync's own writes, in transactions of MIRROR_BATCH_ENTRIES. No HTTP, no
events, no `isLatest`, no curation. The database is reset as mirror_bench.py resets it.

It also reports the CPU time this floor takes in this process and in its PostgreSQL backend (read
from /proc, so PostgreSQL must run on this machine), against the CPU a sync may use to finish within
2x the `json.loads` time on 2 cores: if the floor needs more, no scheduling of it can meet the target.
"""

import argparse
import json
import os
import time
from collections import Counter
from contextlib import contextmanager

import mirror_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    args = parser.parse_args()
    mirror_bench._database_reset()
    mirror_bench._run_child("prepare")
    mirror_bench._django()
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from mirror.models import Server
    from mirror.services import _bulk_write_settings, _entry_parse, _versions_insert
    from mirror.validation import ServerJsonValidator
    from tests.integration.upstream_double import SCHEMA_2025_12_11, generated_registry, prerender

    pages = list(prerender(generated_registry(args.servers, args.versions, at=mirror_bench.PUBLISHED_AT),
                           limit=100).values())
    schema = mirror_bench.SCHEMA_FILE.read_text()
    validator = ServerJsonValidator(default_url=SCHEMA_2025_12_11, load_schema=lambda url: schema)
    seconds = Counter()

    @contextmanager
    def timed(step: str):
        started = time.perf_counter()
        yield
        seconds[step] += time.perf_counter() - started

    servers: dict[str, tuple[int, None]] = {}
    batch, rejected = [], 0

    def store() -> None:
        with timed("storing servers and version rows"), transaction.atomic():
            now = timezone.now()
            names = sorted({entry.name for entry in batch} - servers.keys())
            for server in Server.objects.bulk_create(Server(name=name, first_seen_at=now, last_seen_at=now)
                                                     for name in names):
                servers[server.name] = (server.id, None)
            _versions_insert(batch, servers=servers, now=now)
        batch.clear()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    cpu_before = time.process_time(), _process_cpu_seconds(backend_pid)
    with _bulk_write_settings():
        for body in pages:
            with timed("json.loads of the pages"):
                page = json.loads(body)
            with timed("entry checks, server.json text, SHA-256"):
                entries = [_entry_parse(raw) for raw in page["servers"]]
            with timed("schema check"):
                rejected += sum(1 for entry in entries if validator.problem(entry.server))
            batch += entries
            if len(batch) >= settings.MIRROR_BATCH_ENTRIES:
                store()
        store()
    python_cpu = time.process_time() - cpu_before[0]
    postgres_cpu = _process_cpu_seconds(backend_pid) - cpu_before[1]

    print(f"{args.servers} servers x {args.versions} versions, {len(pages)} pages, {rejected} rejected")
    for step, value in seconds.items():
        print(f"{step:42} {value:6.2f} s")
    print(f"{'total':42} {sum(seconds.values()):6.2f} s")
    budget = 2 * 2 * seconds["json.loads of the pages"]
    print(f"CPU: this process {python_cpu:.2f} s + its PostgreSQL backend {postgres_cpu:.2f} s "
          f"= {python_cpu + postgres_cpu:.2f} s; 2 cores x 2 x json.loads = {budget:.2f} s")


def _process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of another local process (utime and stime in /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
