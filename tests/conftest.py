import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
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
