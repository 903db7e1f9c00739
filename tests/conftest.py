import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from rest_framework.test import APIClient

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "mcp-registry"


def _next_redis_database(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{int(parts.path.strip('/') or 0) + 1}").geturl()


# The suite empties its Redis database around every test and runs Celery workers on it, so it takes
# the database after REDIS_URL's, leaving a `make run` on the same Redis its cache and broker. Set
# before any cache or Celery connection opens; the environment carries it to the commands tests start.
TEST_REDIS_URL = _next_redis_database(settings.REDIS_URL)
settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CACHES["default"]["LOCATION"] = TEST_REDIS_URL
os.environ["REDIS_URL"] = TEST_REDIS_URL
os.environ.pop("REDIS_URL_FILE", None)


# The audit table refuses TRUNCATE while it holds rows (curation migration 0003) unless the
# session opts in; Django empties the test database with TRUNCATE after each transactional test.
@receiver(connection_created, dispatch_uid="tests.allow_audit_truncate")
def _allow_audit_truncate(sender, connection, **kwargs):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET registry.audit_truncate = 'on'")


@pytest.fixture(scope="session", autouse=True)
def _one_run_per_test_database(request):
    """Hold a session advisory lock named after the test database while this run lasts; a second run waits.

    Two runs at once (two `make test` on one checkout) would otherwise drop and recreate the same test
    database under each other, and empty the same Redis database around each other's tests. The lock lives
    in the server's `postgres` database, which every run can reach whatever database it tests on, and ends
    with the run's connection, however the run ends.
    """
    test_database = connection.settings_dict["TEST"]["NAME"] or f"test_{connection.settings_dict['NAME']}"
    key = int.from_bytes(hashlib.sha256(f"registry tests {test_database}".encode()).digest()[:8], "big", signed=True)
    parameters = {name: value for name, value in connection.get_connection_params().items()
                  if name not in {"cursor_factory", "context", "prepare_threshold"}}
    with psycopg.connect(**{**parameters, "dbname": "postgres"}, autocommit=True) as lock_connection:
        if not lock_connection.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
            plugins = request.config.pluginmanager
            with plugins.get_plugin("capturemanager").global_and_fixture_disabled():  # shown at once, as pytest's own
                plugins.get_plugin("terminalreporter").write_line(
                    f"Another test run is using the test database {test_database!r} on this server: "
                    f"waiting for it to finish.", flush=True)
            lock_connection.execute("SELECT pg_advisory_lock(%s)", [key])
        yield


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def shared_file():
    """Path to a file in ../shared/mcp-registry, or skip the test with the reason."""

    def find(name: str):
        path = SHARED_DIR / name
        if not path.exists():
            pytest.skip(f"needs ../shared/mcp-registry/{name}, which is absent here")
        return path

    return find
