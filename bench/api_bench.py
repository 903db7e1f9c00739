"""Benchmark of the /v0.1 registry API (not a test). See bench/README.md, "API benchmark".

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reg_api_bench REDIS_URL=redis://127.0.0.1:6379/4 \\
    DJANGO_SECRET_KEY=bench .venv/bin/python bench/api_bench.py [--servers 10000] [--versions 5] \\
        [--duration 30] [--rounds 3] [--warmup 1] [--connections 16] [--reuse]

The database named by DATABASE_URL (its name must end in "bench") is dropped, created, migrated
and bulk-loaded with N servers x M versions, all approved; `--reuse` keeps a previous load.
The app and the baseline then run side by side under gunicorn (registry_project/gunicorn_conf.py)
on 127.0.0.1, and a load-generator process (a small asyncio HTTP/1.1 keep-alive client) drives each
scenario for `--duration` measured seconds per side, in `--rounds` alternating rounds each after an
unmeasured warm-up: the first page and deep cursors of `GET /v0.1/servers?limit=100`, and
`/versions/latest` lookups. The baseline, under the same gunicorn settings, is `baseline_app` below: a bare WSGI app
doing one psycopg keyset query per request and returning the same rows as JSON.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Production's settings (the Procfile's), for the app and the baseline alike.
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "python:registry_project.gunicorn_conf",
            "--log-level", "warning", "--keep-alive", "30"]
PUBLISHED_AT = datetime(2025, 10, 1, tzinfo=timezone.utc)
PAGE = 100


# --- The baseline: a bare WSGI app, one psycopg keyset query per request -----------------------------

BASELINE_ROWS_SQL = """
    SELECT l.name, l.version_string, v.server_json, v.published_at, l.updated_at, l.is_latest
    FROM curation_listing l JOIN mirror_serverversion v ON v.id = l.version_id
    WHERE l.is_served AND {where} ORDER BY l.name, l.version_string LIMIT %s
"""
_baseline_local = threading.local()


def _baseline_rows(where: str, params: tuple) -> list:
    connection = getattr(_baseline_local, "connection", None)
    if connection is None:
        import psycopg

        connection = _baseline_local.connection = psycopg.connect(os.environ["BASELINE_DSN"], autocommit=True)
    return connection.execute(BASELINE_ROWS_SQL.format(where=where), params).fetchall()


def _baseline_entry(row) -> str:
    name, version, server_json, published_at, updated_at, is_latest = row
    return (f'{{"server":{server_json},"_meta":{{"publishedAt":"{published_at.isoformat()}",'
            f'"updatedAt":"{updated_at.isoformat()}","isLatest":{"true" if is_latest else "false"}}}}}')


def baseline_app(environ, start_response):
    """`/page?name=&version=` (keyset after that row) and `/latest?name=`."""
    query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if environ["PATH_INFO"] == "/latest":
        rows = _baseline_rows("l.name = %s AND l.is_latest", (query["name"], 1))
        body = _baseline_entry(rows[0]) if rows else "null"
    else:
        after = (query.get("name", ""), query.get("version", ""))
        rows = _baseline_rows("l.name >= %s AND (l.name > %s OR l.version_string > %s)",
                              (after[0], after[0], after[1], PAGE))
        body = f'{{"servers":[{",".join(map(_baseline_entry, rows))}],"metadata":{{"count":{len(rows)}}}}}'
    payload = body.encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


# --- Data ----------------------------------------------------------------------------------------------

def _database_admin(url: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(statement)


def _server_document(name: str, version: str) -> dict:
    short = name.split("/")[-1]
    return {
        "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
        "name": name,
        "description": f"Benchmark server {short}",
        "repository": {"url": f"https://github.com/bench/{short}", "source": "github"},
        "version": version,
        "packages": [{"registryType": "npm", "identifier": f"@bench/{short}", "version": version,
                      "transport": {"type": "stdio"}}],
    }


def load(servers: int, versions: int) -> float:
    """Bulk-insert mirror rows and approvals, then build the served projection with curation's own service."""
    import hashlib

    from tqdm import tqdm

    from curation.choices import CurationState
    from curation.models import ServerCuration
    from curation.services import listing_refresh
    from mirror.models import Server, ServerVersion

    started = time.perf_counter()
    names = [f"io.github.bench-{index % 97:02d}/server-{index:05d}" for index in range(servers)]
    Server.objects.bulk_create([Server(name=name) for name in names], batch_size=5000)
    ids = dict(Server.objects.values_list("name", "id"))
    batch = []
    for name in tqdm(names, desc="versions", unit="server"):
        for minor in range(versions):
            version = f"1.{minor}.0"
            document = _server_document(name, version)
            text = json.dumps(document, separators=(",", ":"))
            at = PUBLISHED_AT + timedelta(days=minor)
            batch.append(ServerVersion(
                server_id=ids[name], version=version, server_json=text, document=document,
                content_hash=hashlib.sha256(text.encode()).hexdigest(), status="active",
                status_changed_at=at, published_at=at, upstream_updated_at=at, is_latest=minor == versions - 1,
            ))
        if len(batch) >= 10000:
            ServerVersion.objects.bulk_create(batch)
            batch = []
    ServerVersion.objects.bulk_create(batch)
    ServerCuration.objects.bulk_create(
        [ServerCuration(server_id=server_id, state=CurationState.APPROVED, decided_by_name="bench",
                        decided_at=PUBLISHED_AT) for server_id in ids.values()], batch_size=5000)
    server_ids = sorted(ids.values())
    for start in tqdm(range(0, len(server_ids), 500), desc="projection", unit="chunk"):
        listing_refresh(server_ids=server_ids[start:start + 500])
    return time.perf_counter() - started


def prepare(url: str, servers: int, versions: int, reuse: bool) -> dict:
    name = urlsplit(url).path.lstrip("/")
    if not name.endswith("bench"):
        sys.exit(f"DATABASE_URL must name a database ending in 'bench' (it is dropped): {name!r}")
    if not reuse:
        _database_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _database_admin(url, f'CREATE DATABASE "{name}"')
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from api.cursors import Cursor, ListFilters, cursor_encode
    from curation.models import Listing

    call_command("migrate", verbosity=0)
    served = Listing.objects.filter(is_served=True).count()
    load_seconds = None
    if served != servers * versions:
        if reuse and served:
            sys.exit(f"--reuse: the database holds {served} served entries, not {servers * versions}")
        load_seconds = load(servers, versions)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # fresh statistics, as autovacuum would eventually give
    rows = list(Listing.objects.filter(is_served=True).order_by("name", "version_string")
                .values_list("name", "version_string"))
    rng = random.Random(7)
    # Deep cursors: positions in the last fifth of the list.
    deep = [rows[rng.randrange(len(rows) * 4 // 5, len(rows) - PAGE)] for _ in range(200)]
    names = sorted({name for name, _ in rows})
    lookups = [rng.choice(names) for _ in range(2000)]
    return {
        "load_seconds": load_seconds,
        "app": {
            "first page": ["/v0.1/servers?limit=100"],
            "deep cursor": [f"/v0.1/servers?limit=100&cursor={cursor_encode(Cursor(n, v, ListFilters()))}"
                            for n, v in deep],
            "lookup latest": [f"/v0.1/servers/{quote(n, safe='')}/versions/latest" for n in lookups],
        },
        "baseline": {
            "first page": ["/page"],
            "deep cursor": [f"/page?name={quote(n, safe='')}&version={quote(v, safe='')}" for n, v in deep],
            "lookup latest": [f"/latest?name={quote(n, safe='')}" for n in lookups],
        },
    }


# --- Serving and loading --------------------------------------------------------------------------------

@contextmanager
def gunicorn(target: str, env: dict, chdir: Path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    listener.set_inheritable(True)
    port = listener.getsockname()[1]
    process = subprocess.Popen([*GUNICORN, "--bind", f"fd://{listener.fileno()}", "--chdir", str(chdir), target],
                               env={**os.environ, "PYTHONPATH": str(ROOT), **env}, pass_fds=[listener.fileno()])
    listener.close()
    try:
        _wait_ready(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _gunicorn_shape() -> str:
    sys.path.insert(0, str(ROOT))
    from registry_project import gunicorn_conf

    return f"{gunicorn_conf.worker_class} {gunicorn_conf.workers} workers x {gunicorn_conf.threads} thread(s)"


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"GET /v0.1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if connection.recv(16):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


async def _client(port: int, paths: list[str], deadline: float, latencies: list, failures: list, offset: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = offset
    while time.perf_counter() < deadline:
        path = paths[index % len(paths)]
        index += 1
        started = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        length_at = head.index(b"content-length:") + 15
        await reader.readexactly(int(head[length_at:head.index(b"\r\n", length_at)]))
        close = b"connection: close" in head
        latencies.append((started, time.perf_counter() - started))
        if status != 200:
            failures.append(status)
        if close:
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()


def _drive(port: int, paths: list[str], warmup: float, duration: float, connections: int) -> dict:
    """Load for `warmup + duration` seconds; only requests started after the warm-up count."""
    latencies, failures = [], []

    counted_from = time.perf_counter() + warmup

    async def run():
        await asyncio.gather(*(_client(port, paths, counted_from + duration, latencies, failures, offset * 7)
                               for offset in range(connections)))

    asyncio.run(run())
    return {
        "latencies_ms": [round(latency * 1000, 3) for started, latency in latencies if started >= counted_from],
        "failures": len(failures),
    }


def measure(port: int, paths: list[str], warmup: float, duration: float, connections: int) -> dict:
    """Run the load generator in a second process; it prints one JSON line."""
    result = subprocess.run(
        [sys.executable, __file__, "--drive", str(port), str(warmup), str(duration), str(connections)],
        input=json.dumps(paths), capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


def summary(rounds: list[dict], duration: float) -> dict:
    ordered = sorted(latency for round_ in rounds for latency in round_["latencies_ms"])
    return {
        "requests": len(ordered), "failures": sum(round_["failures"] for round_ in rounds),
        "rps": len(ordered) / duration,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per scenario and side")
    parser.add_argument("--rounds", type=int, default=3, help="app and baseline alternate this many times")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--reuse", action="store_true", help="keep a previous load of the bench database")
    args = parser.parse_args()

    url = os.environ["DATABASE_URL"]
    plan = prepare(url, args.servers, args.versions, args.reuse)
    if plan["load_seconds"] is not None:
        print(f"loaded {args.servers} servers x {args.versions} versions in {plan['load_seconds']:.0f} s")

    app_env = {"DJANGO_SETTINGS_MODULE": "registry_project.settings", "LOG_LEVEL": "WARNING"}
    round_seconds = args.duration / args.rounds
    results = {}
    with (gunicorn("registry_project.wsgi:application", app_env, ROOT) as app_port,
          gunicorn("api_bench:baseline_app", {"BASELINE_DSN": url}, ROOT / "bench") as baseline_port):
        for scenario in plan["app"]:
            rounds = {"app": [], "baseline": []}
            for _ in range(args.rounds):  # alternating, so a change in machine load hits both sides alike
                for side, port in (("app", app_port), ("baseline", baseline_port)):
                    rounds[side].append(measure(port, plan[side][scenario], args.warmup, round_seconds,
                                                args.connections))
            for side in rounds:
                results[(side, scenario)] = summary(rounds[side], args.duration)
                print(f"{side:9} {scenario:14} {results[(side, scenario)]}", flush=True)

    print(f"\n{args.servers} servers x {args.versions} versions, {args.connections} connections, "
          f"{args.duration:.0f} s per scenario and side in {args.rounds} alternating rounds, "
          f"gunicorn {_gunicorn_shape()}, {os.cpu_count()} CPUs\n")
    print("| Scenario | App req/s | App p50 / p99 (ms) | Baseline req/s | Baseline p50 / p99 (ms) | App / baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for scenario in plan["app"]:
        app, base = results[("app", scenario)], results[("baseline", scenario)]
        print(f"| {scenario} | {app['rps']:.0f} | {app['p50_ms']:.1f} / {app['p99_ms']:.1f} | {base['rps']:.0f} | "
              f"{base['p50_ms']:.1f} / {base['p99_ms']:.1f} | {app['rps'] / base['rps']:.2f}x |")
    failures = sum(result["failures"] for result in results.values())
    if failures:
        print(f"\n{failures} non-200 responses: the numbers above are not valid")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--drive":
        _, _, port, warmup, duration, connections = sys.argv
        print(json.dumps(_drive(int(port), json.loads(sys.stdin.read()), float(warmup), float(duration),
                                int(connections))))
    else:
        main()
