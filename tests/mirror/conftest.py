"""Fixtures for the mirror: an upstream faked at the HTTP boundary with respx, over FakeRegistry."""

from collections import deque
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx
import psycopg
import pytest
import respx
import stamina
from django.db import connection

from mirror.services import SYNC_LOCK_KEY
from mirror.signals import mirror_changed
from tests.factories import server_document
from tests.integration.upstream_double import SCHEMA_2025_12_11, FakeRegistry

UPSTREAM = "https://upstream.test"
T0 = datetime(2025, 12, 1, 9, 30, tzinfo=timezone.utc)
RETRY_ATTEMPTS = 3


@pytest.fixture(autouse=True)
def _retries_without_sleeping(settings):
    """Real retry logic, no backoff sleeps; three attempts per request."""
    settings.MIRROR_RETRY_ATTEMPTS = RETRY_ATTEMPTS
    settings.MIRROR_UPSTREAM_URL = UPSTREAM
    with stamina.set_testing(True, attempts=RETRY_ATTEMPTS, cap=True):
        yield


@pytest.fixture
def schema_text(shared_file):
    return shared_file("server.schema.2025-12-11.json").read_text()


class Upstream:
    """`GET /v0.1/servers` answered from `registry`, unless a scripted fault is queued first."""

    def __init__(self, router: respx.MockRouter, registry: FakeRegistry, *, host: str = "upstream.test"):
        self.registry = registry
        self.faults: deque = deque()
        self.route = router.get(host=host, path="/v0.1/servers").mock(side_effect=self._respond)

    def _respond(self, request: httpx.Request) -> httpx.Response:
        if self.faults:
            fault = self.faults.popleft()
            if isinstance(fault, BaseException):
                raise fault
            return fault
        status, body = self.registry.respond(dict(request.url.params))
        return httpx.Response(status, json=body)

    def publish(self, name: str, version: str, *, at: datetime = T0, **extra):
        return self.registry.publish(server_document(name, version, **extra), at=at)

    @property
    def params(self) -> list[dict[str, str]]:
        return [dict(call.request.url.params) for call in self.route.calls]


@pytest.fixture
def router(schema_text):
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.get(SCHEMA_2025_12_11, name="schema").respond(200, text=schema_text)
        yield mock


@pytest.fixture
def upstream(router):
    return Upstream(router, FakeRegistry())


@pytest.fixture
def signal_calls():
    """Only a recording receiver on `mirror_changed` (curation's is set aside): what the sync sends."""
    calls = []

    def record(sender, **kwargs):
        calls.append(kwargs)

    saved = mirror_changed.receivers
    mirror_changed.receivers = []
    mirror_changed.sender_receivers_cache.clear()
    mirror_changed.connect(record, weak=False)
    yield calls
    mirror_changed.receivers = saved
    mirror_changed.sender_receivers_cache.clear()


@pytest.fixture
def hold_sync_lock():
    """A context manager: another session holds the sync's advisory lock (tests need transaction=True)."""
    @contextmanager
    def hold():
        params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
        with psycopg.connect(**params, autocommit=True) as holder:
            assert holder.execute("SELECT pg_try_advisory_lock(%s)", [SYNC_LOCK_KEY]).fetchone()[0]
            try:
                yield
            finally:
                # Unlock before closing: a closed session's backend releases its locks a moment later.
                holder.execute("SELECT pg_advisory_unlock(%s)", [SYNC_LOCK_KEY])

    return hold
