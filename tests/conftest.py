from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "mcp-registry"


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
