"""Benchmark of the upstream mirror (not a test). See bench/README.md, "Mirror benchmark".

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reg_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
    DJANGO_SECRET_KEY=bench .venv/bin/python bench/mirror_bench.py [--servers 10000] [--versions 5]

The database named by DATABASE_URL is dropped, created and migrated on every run, so its name
must end in "bench". A loopback upstream double (tests/integration/upstream_double.py) runs in a
separate process and serves pre-rendered pages; every measured step runs in a child process of
its own, which reports its wall time and peak RSS (ru_maxrss).

Measured: the raw paging time (download and JSON-parse every page with the mirror's own client,
the baseline), a full sync into the empty database, then an incremental sync with no changes.
"""

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "mcp-registry"
SCHEMA_FILE = SHARED / "server.schema.2025-12-11.json"
PUBLISHED_AT = datetime(2025, 10, 1, tzinfo=timezone.utc)


def _django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    import django

    django.setup()


# --- The upstream double's process -------------------------------------------------------------


def _serve(servers: int, versions: int, page_size: int, ready) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.integration.upstream_double import UpstreamDouble, generated_registry, prerender

    registry = generated_registry(servers, versions, at=PUBLISHED_AT)
    pages = prerender(registry, limit=page_size)
    sizes = [len(body) for body in pages.values()]
    double = UpstreamDouble(registry, pages=pages).start()
    ready.send({"url": double.url, "pages": len(pages), "bytes": sum(sizes)})
    ready.recv()  # until the parent says stop
    double.stop()


# --- Child steps: each runs in its own process --------------------------------------------------


def _child(step: str, url: str) -> dict:
    _django()
    from django.core.management import call_command

    if step == "prepare":
        call_command("migrate", verbosity=0)
        from mirror.models import SchemaDocument
        from tests.integration.upstream_double import SCHEMA_2025_12_11

        SchemaDocument.objects.update_or_create(url=SCHEMA_2025_12_11, defaults={"body": SCHEMA_FILE.read_text()})
        return {}

    if step == "raw":
        from mirror.upstream import UpstreamClient

        started = time.perf_counter()
        pages = entries = 0
        with UpstreamClient(url) as upstream:
            for page in upstream.server_pages():
                pages += 1
                entries += len(page.entries)
        return {"seconds": time.perf_counter() - started, "pages": pages, "entries": entries}

    from mirror.services import sync_run_execute
    from mirror.signals import mirror_changed

    # Time spent in mirror_changed receivers (curation's, during a real sync).
    receivers_seconds = 0.0
    send = mirror_changed.send

    def timed_send(*args, **kwargs):
        nonlocal receivers_seconds
        started = time.perf_counter()
        try:
            return send(*args, **kwargs)
        finally:
            receivers_seconds += time.perf_counter() - started

    mirror_changed.send = timed_send
    started = time.perf_counter()
    run = sync_run_execute(full=step == "full", upstream_url=url)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds, "receivers_seconds": receivers_seconds, "outcome": run.outcome, "error": run.error,
        "mode": run.mode, "pages": run.pages, "created": run.created, "changed": run.changed,
        "unchanged": run.unchanged, "rejected": run.rejected,
    }


def _run_child(step: str, url: str = "") -> dict:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, __file__, "--child", step, url], env=env, capture_output=True,
                            text=True, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"step {step} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _database_reset() -> None:
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/")
    if not name.endswith("bench"):
        sys.exit(f"refusing to drop database {name!r}: the benchmark's database name must end in 'bench'")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("STEP", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = _child(*args.child)
        result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    if "DATABASE_URL" not in os.environ:
        sys.exit("set DATABASE_URL to a database of its own whose name ends in 'bench' (it is dropped and recreated)")
    if not SCHEMA_FILE.exists():
        sys.exit(f"needs {SCHEMA_FILE} (the official schema is never fetched from the network here)")
    page_size = int(os.environ.get("MIRROR_PAGE_SIZE", "100"))
    print(f"Preparing {args.servers} servers x {args.versions} versions …", flush=True)
    _database_reset()
    _run_child("prepare")
    parent_end, child_end = multiprocessing.Pipe()
    double = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(args.servers, args.versions, page_size, child_end), daemon=True
    )
    double.start()
    upstream = parent_end.recv()
    try:
        print(f"Upstream double at {upstream['url']}: {upstream['pages']} pages, "
              f"{upstream['bytes'] / 1e6:.0f} MB of JSON", flush=True)
        raw = _run_child("raw", upstream["url"])
        full = _run_child("full", upstream["url"])
        incremental = _run_child("incremental", upstream["url"])
    finally:
        parent_end.send("stop")
        double.join(timeout=10)
    for name, step in (("full", full), ("incremental", incremental)):
        if step["outcome"] != "succeeded":
            sys.exit(f"the {name} sync failed: {step['error']}")
    versions = args.servers * args.versions
    ratio = full["seconds"] / raw["seconds"]
    print(f"raw paging:          {raw['seconds']:7.2f} s  ({raw['pages']} pages, {raw['entries']} entries, "
          f"RSS {raw['max_rss_mb']:.0f} MB)")
    print(f"full sync:           {full['seconds']:7.2f} s  ({full['created']} created, "
          f"{full['created'] / full['seconds']:.0f} versions/s)")
    print(f"  of which receivers {full['receivers_seconds']:7.2f} s  (mirror_changed, e.g. curation)")
    print(f"  peak RSS:          {full['max_rss_mb']:7.0f} MB")
    print(f"full / raw:          {ratio:7.2f}   (target <= 2)")
    print(f"no-change incremental: {incremental['seconds']:5.2f} s  ({incremental['pages']} page(s), "
          f"RSS {incremental['max_rss_mb']:.0f} MB; target < 2 s)")
    ok = ratio <= 2 and full["max_rss_mb"] < 300 and incremental["seconds"] < 2 and full["created"] == versions
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
