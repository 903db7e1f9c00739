"""Building served data for the registry API tests: mirror rows + curation rows + the projection."""

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from curation.choices import CurationState, VersionPolicy
from curation.models import ServerCuration, VersionCuration
from curation.services import listing_refresh
from mirror.choices import UpstreamStatus
from tests.factories import ServerFactory, ServerVersionFactory

OFFICIAL = "io.modelcontextprotocol.registry/official"
PUBLISHED = datetime(2025, 12, 12, 9, 30, tzinfo=timezone.utc)


def make_server(name: str, versions=("1.0.0",), *, state=CurationState.APPROVED, policy=VersionPolicy.ALL,
                statuses: dict | None = None, version_states: dict | None = None, meta: dict | None = None,
                extra: dict | None = None):
    """A mirrored server with these versions (published an hour apart, in order), curated, projected."""
    server = ServerFactory(name=name)
    for index, version in enumerate(versions):
        ServerVersionFactory(
            server=server, version=version,
            status=(statuses or {}).get(version, UpstreamStatus.ACTIVE),
            published_at=PUBLISHED + timedelta(hours=index),
            status_changed_at=PUBLISHED + timedelta(hours=index),
            extra=extra or {},
        )
    ServerCuration.objects.create(server=server, state=state, version_policy=policy, decided_by_name="alice",
                                  decided_at=PUBLISHED, meta=meta or {})
    for version, version_state in (version_states or {}).items():
        VersionCuration.objects.create(version=server.versions.get(version=version), state=version_state)
    listing_refresh(server_ids=[server.id])
    return server


def set_server_state(server, state):
    ServerCuration.objects.filter(server=server).update(state=state)
    listing_refresh(server_ids=[server.id])


def path_name(name: str) -> str:
    return quote(name, safe="")


def body(response) -> dict:
    return json.loads(response.content)


def walk(client, url: str, *, prefix: str = "/v0.1/servers", raw_cursor: bool = True) -> list[dict]:
    """Every page of a list, following nextCursor; the cursor is appended raw as VS Code does."""
    pages, query = [], url
    for _ in range(1000):
        response = client.get(f"{prefix}{query}")
        assert response.status_code == 200, response.content
        page = body(response)
        pages.append(page)
        cursor = page["metadata"].get("nextCursor")
        if not cursor:
            return pages
        assert cursor != ""
        separator = "&" if "?" in url else "?"
        query = f"{url}{separator}cursor={cursor if raw_cursor else quote(cursor, safe='')}"
    raise AssertionError("pagination did not end")


def served_pairs(pages: list[dict]) -> list[tuple[str, str]]:
    return [(entry["server"]["name"], entry["server"]["version"]) for page in pages for entry in page["servers"]]


def make_servers(names, versions=("1.0.0",)):
    """Many approved servers at once, projected in one refresh."""
    servers = [ServerFactory(name=name) for name in names]
    for server in servers:
        for index, version in enumerate(versions):
            ServerVersionFactory(server=server, version=version, published_at=PUBLISHED + timedelta(hours=index))
    ServerCuration.objects.bulk_create(
        ServerCuration(server=server, state=CurationState.APPROVED, decided_by_name="alice", decided_at=PUBLISHED)
        for server in servers
    )
    listing_refresh(server_ids=[server.id for server in servers])
    return servers
