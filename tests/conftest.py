from pathlib import Path

import pytest
from django.core.cache import cache
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from rest_framework.test import APIClient

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "mcp-registry"


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
