"""A stand-in for the upstream MCP Registry's `GET /v0.1/servers`, with its real paging semantics.

`FakeRegistry` holds the data and answers list queries the way upstream does (UPSTREAM.md §2):
ORDER BY name, version (string order); `cursor` is `name:version` split on the first `:`;
`updated_since` is strict `>` and forces `include_deleted`; `nextCursor` whenever a page is
full, so an exactly full last page is followed by an empty one; 400/422 for bad parameters.
Like upstream, publishing a new latest version flips the old latest's `isLatest` without
touching its `updatedAt`.

`UpstreamDouble` serves a FakeRegistry (or pre-rendered pages) over real HTTP on 127.0.0.1,
port 0, from a thread; responses can be scripted to fail. Used by the integration tests and
by bench/mirror_bench.py (which runs it in a separate process).
"""

import bisect
import itertools
import json
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from mirror.upstream import parse_timestamp
from mirror.versioning import pick_latest

OFFICIAL = "io.modelcontextprotocol.registry/official"
SCHEMA_2025_12_11 = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


def rfc3339(moment: datetime) -> str:
    """As Go prints a PostgreSQL timestamptz: UTC, up to 6 fractional digits, trailing zeros trimmed."""
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return f"{text}Z"


@dataclass
class Row:
    server: dict
    status: str
    status_changed_at: datetime
    published_at: datetime
    updated_at: datetime
    status_message: str = ""
    is_latest: bool = False

    @property
    def version(self) -> str:
        return self.server["version"]

    def entry(self) -> dict:
        official = {"status": self.status, "statusChangedAt": rfc3339(self.status_changed_at)}
        if self.status_message:
            official["statusMessage"] = self.status_message
        official.update(publishedAt=rfc3339(self.published_at), updatedAt=rfc3339(self.updated_at),
                        isLatest=self.is_latest)
        return {"server": self.server, "_meta": {OFFICIAL: official}}


class FakeRegistry:
    def __init__(self):
        self._rows: dict[tuple[str, str], Row] = {}
        self._keys: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._keys)

    def publish(self, server: dict, *, at: datetime, status: str = "active", status_message: str = "") -> Row:
        """Publish a version; like upstream, the old latest loses its flag without a new updatedAt."""
        key = (server["name"], server["version"])
        with self._lock:
            row = Row(server=server, status=status, status_changed_at=at, published_at=at, updated_at=at,
                      status_message=status_message)
            if key not in self._rows:
                bisect.insort(self._keys, key)
            self._rows[key] = row
            self._latest_reflag(server["name"])
            return row

    def set_status(self, name: str, version: str, status: str, *, at: datetime, message: str = "") -> Row:
        with self._lock:
            row = self._rows[(name, version)]
            row.status, row.status_changed_at, row.updated_at, row.status_message = status, at, at, message
            self._latest_reflag(name)
            return row

    def remove_all(self) -> None:
        """An upstream data reset."""
        with self._lock:
            self._rows.clear()
            self._keys.clear()

    def row(self, name: str, version: str) -> Row:
        return self._rows[(name, version)]

    def _latest_reflag(self, name: str) -> None:
        start = bisect.bisect_left(self._keys, (name, ""))
        rows = []
        for key in self._keys[start:]:
            if key[0] != name:
                break
            rows.append(self._rows[key])
        latest = pick_latest(rows)
        for row in rows:
            row.is_latest = row is latest

    def respond(self, query: dict[str, str]) -> tuple[int, dict]:
        """(status, JSON body) for `GET /v0.1/servers` with these query parameters."""
        raw_limit = query.get("limit", "30")
        if not raw_limit.lstrip("-").isdigit() or not 1 <= int(raw_limit) <= 100:
            return 422, _problem(422, "Unprocessable Entity", "validation failed")
        limit = int(raw_limit)
        updated_since = None
        if "updated_since" in query:
            try:
                updated_since = parse_timestamp(query["updated_since"])
            except ValueError:
                return 400, _problem(400, "Bad Request", "Invalid updated_since format: expected RFC3339 timestamp "
                                                         "(e.g., 2025-08-07T13:15:04.280Z)")
        include_deleted = query.get("include_deleted", "false")
        if include_deleted not in ("true", "false"):
            return 422, _problem(422, "Unprocessable Entity", "validation failed")
        if updated_since is not None:
            if include_deleted == "false" and "include_deleted" in query:
                return 400, _problem(400, "Bad Request", "Cannot set include_deleted=false when using updated_since "
                                                         "(incremental sync requires deleted servers)")
            include_deleted = "true"
        with self._lock:
            start = 0
            cursor = query.get("cursor")
            if cursor:
                name, sep, version = cursor.partition(":")
                start = bisect.bisect_right(self._keys, (name, version)) if sep else \
                    bisect.bisect_right(self._keys, (name, "\U0010ffff"))
            page = []
            for key in itertools.islice(self._keys, start, None):
                row = self._rows[key]
                if include_deleted != "true" and row.status == "deleted":
                    continue
                if updated_since is not None and not row.updated_at > updated_since:
                    continue
                page.append(row)
                if len(page) == limit:
                    break
            metadata = {"count": len(page)}
            if len(page) == limit:
                metadata = {"nextCursor": f"{page[-1].server['name']}:{page[-1].version}", "count": len(page)}
            return 200, {"servers": [row.entry() for row in page], "metadata": metadata}


def _problem(status: int, title: str, detail: str) -> dict:
    return {"title": title, "status": status, "detail": detail}


@dataclass
class Fault:
    """A scripted answer served instead of the real one for the next list request."""

    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    # Declare more bytes than are sent, then close: a truncated body at the HTTP level.
    short_by: int = 0


class UpstreamDouble:
    """A real HTTP server on 127.0.0.1 (ephemeral port) answering like upstream.

    Serves `pages` (pre-rendered bodies keyed by the exact query string) where one matches, else
    answers from `registry` live.
    """

    def __init__(self, registry: FakeRegistry | None = None, *, pages: dict[str, bytes] | None = None):
        self.registry = registry or FakeRegistry()
        self.pages = pages
        self.requests: list[dict[str, str]] = []
        self.faults: deque[Fault] = deque()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def start(self) -> "UpstreamDouble":
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path != "/v0.1/servers":
                    return self._send(404, json.dumps(_problem(404, "Not Found", "Endpoint not found")).encode())
                query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
                double.requests.append(query)
                if double.faults:
                    fault = double.faults.popleft()
                    return self._send(fault.status, fault.body, fault.headers, short_by=fault.short_by)
                if double.pages is not None and parts.query in double.pages:
                    return self._send(200, double.pages[parts.query])
                status, document = double.registry.respond(query)
                return self._send(status, json.dumps(document, ensure_ascii=False).encode())

            def _send(self, status, body, headers=None, short_by=0):
                self.send_response(status)
                content_type = "application/json" if status == 200 else "application/problem+json"
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body) + short_by))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if short_by:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="upstream-double", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


# --- Generated data ----------------------------------------------------------------------------

_WORDS = ("file", "git", "search", "cloud", "data", "notes", "calendar", "mail", "docs", "sql", "browser",
          "slack", "vector", "kube", "metrics", "tickets", "maps", "weather", "finance", "images")


def generated_server(index: int, version: str, *, rng: random.Random | None = None) -> dict:
    """A valid 2025-12-11 `server.json` of realistic size (about 1.5–3 KB), key order as publishers write it."""
    rng = rng or random.Random(index)
    word = _WORDS[index % len(_WORDS)]
    owner = f"owner{index % 997:03d}"
    name = f"io.github.{owner}/{word}-mcp-{index:06d}"
    environment = [
        {"description": f"{word.title()} API token number {n} used to authenticate requests to the service; "
                        "create one in the account settings with read access.",
         "isRequired": n == 0, "isSecret": True, "format": "string", "name": f"{word.upper()}_TOKEN_{n}"}
        for n in range(rng.randint(2, 6))
    ]
    server = {
        "$schema": SCHEMA_2025_12_11,
        "name": name,
        "title": f"{word.title()} MCP {index}",
        "description": f"Read and write {word} resources from MCP clients (generated server {index}).",
        "repository": {"url": f"https://github.com/{owner}/{word}-mcp-{index:06d}", "source": "github",
                       "id": str(100000 + index)},
        "version": version,
        "websiteUrl": f"https://{owner}.example.com/{word}",
        "packages": [
            {"registryType": "npm", "registryBaseUrl": "https://registry.npmjs.org",
             "identifier": f"@{owner}/{word}-mcp-{index:06d}", "version": version, "runtimeHint": "npx",
             "transport": {"type": "stdio"},
             "packageArguments": [{"type": "named", "name": "--read-only", "description": "Refuse writes.",
                                   "isRequired": False, "format": "boolean"}],
             "environmentVariables": environment},
            {"registryType": "oci", "identifier": f"docker.io/{owner}/{word}-mcp:{version}", "runtimeHint": "docker",
             "transport": {"type": "stdio"}, "environmentVariables": environment[:2]},
        ],
        "remotes": [{"type": "streamable-http", "url": f"https://mcp.{owner}.example.com/{word}/mcp",
                     "headers": [{"name": "Authorization", "description": "Bearer token for the hosted server.",
                                  "isRequired": True, "isSecret": True}]}],
    }
    return server


def generated_registry(servers: int, versions: int, *, at: datetime) -> FakeRegistry:
    registry = FakeRegistry()
    for index in range(servers):
        rng = random.Random(index)
        for minor in range(versions):
            registry.publish(generated_server(index, f"1.{minor}.0", rng=rng), at=at)
    return registry


def prerender(registry: FakeRegistry, *, limit: int = 100, updated_since: str | None = None) -> dict[str, bytes]:
    """Every page of one paging chain, keyed by the query string the mirror will send."""
    from urllib.parse import urlencode

    pages, params = {}, {"limit": str(limit), "include_deleted": "true"}
    if updated_since:
        params["updated_since"] = updated_since
    while True:
        status, body = registry.respond(params)
        assert status == 200, body
        pages[urlencode(params)] = json.dumps(body, ensure_ascii=False).encode()
        cursor = body["metadata"].get("nextCursor")
        if cursor is None:
            return pages
        params = {**params, "cursor": cursor}
