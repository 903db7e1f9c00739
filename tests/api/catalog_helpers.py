"""Test data for the catalog, client-config and allowlist tests: mirrored versions plus curation rows."""

from curation.choices import CurationState
from curation.models import ServerCuration
from curation.services import listing_refresh
from mirror.versioning import pick_latest
from tests.factories import ServerFactory, ServerVersionFactory


def make_server(name: str, versions=("1.0.0",), *, state=CurationState.APPROVED, meta=None, extra=None,
                decided_by_name="alice"):
    """A mirrored server with these versions (`extra` merged into every server.json) and a curation decision."""
    server = ServerFactory(name=name)
    for version in versions:
        ServerVersionFactory(server=server, version=version, extra=dict(extra or {}))
    server.latest_version = pick_latest(list(server.versions.all()))
    server.save(update_fields=["latest_version"])
    ServerCuration.objects.create(server=server, state=state, meta=meta or {}, decided_by_name=decided_by_name)
    listing_refresh(server_ids=[server.id])
    return server


def set_state(server, state):
    ServerCuration.objects.filter(server=server).update(state=state)
    listing_refresh(server_ids=[server.id])


REMOTE = {"type": "streamable-http", "url": "https://mcp.acme.example/mcp"}


def nested_variables(*, depth: int, repeats: int) -> dict:
    """A positional argument using its variable `{a}` `repeats` times, whose `a` does the same, `depth` levels down."""
    spec = {"value": "x"}
    for _ in range(depth):
        spec = {"value": "{a}" * repeats, "variables": {"a": spec}}
    return {"type": "positional", "valueHint": "v", **spec}


def package(registry_type: str) -> dict:
    """A server.json `packages[]` entry from this registry."""
    return {"registryType": registry_type, "identifier": f"acme-{registry_type}", "version": "1.0.0",
            "transport": {"type": "stdio"}}
