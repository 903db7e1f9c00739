"""Policies and the audit trail through a real sync run, upstream faked at the HTTP boundary (respx)."""

import json
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
import respx
from django.utils import timezone

from curation.choices import AuditAction, PolicyEffect
from curation.models import AuditEvent, Listing, Policy
from mirror.choices import SyncOutcome
from mirror.models import Server
from mirror.services import sync_run_execute
from tests.curation.curation_support import server_state, version_state
from tests.factories import SCHEMA_URL, server_document

UPSTREAM = "http://127.0.0.1:9"


def entry(name, version, status="active", **extra):
    when = "2026-01-05T10:00:00Z"
    return {"server": server_document(name, version, **extra), "_meta": {"io.modelcontextprotocol.registry/official": {
        "status": status, "statusChangedAt": when, "publishedAt": when, "updatedAt": when, "isLatest": True}}}


@pytest.fixture
def upstream(shared_file, settings):
    settings.MIRROR_SERVER_SCHEMA_URL = SCHEMA_URL
    settings.MIRROR_RETRY_ATTEMPTS = 1
    schema = json.loads(shared_file("server.schema.2025-12-11.json").read_text())
    with respx.mock(assert_all_called=False) as router:
        router.get(SCHEMA_URL).mock(return_value=httpx.Response(200, json=schema))
        yield router


@pytest.mark.django_db(transaction=True)
def test_a_sync_applies_policies_audits_discoveries_and_serves_at_once(upstream):
    Policy.objects.create(name="acme", priority=10, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    Policy.objects.create(name="no-pypi", priority=10, registry_type="pypi", effect=PolicyEffect.BLOCK)
    pypi = [{"registryType": "pypi", "identifier": "acme-py", "version": "1.0.0", "transport": {"type": "stdio"}}]
    upstream.get(f"{UPSTREAM}/v0.1/servers").mock(return_value=httpx.Response(200, json={
        "servers": [entry("io.github.acme/tool", "1.0.0"), entry("io.github.acme/py", "1.0.0", packages=pypi),
                    entry("io.github.else/x", "1.0.0"), entry("io.github.acme/gone", "1.0.0", status="deleted")],
        "metadata": {"count": 4},
    }))

    run = sync_run_execute(full=True, upstream_url=UPSTREAM)

    assert run.outcome == SyncOutcome.SUCCEEDED, run.error
    states = {server.name: server_state(server) for server in Server.objects.all()}
    assert states == {"io.github.acme/tool": "approved", "io.github.acme/py": "blocked",  # block wins the tie
                      "io.github.else/x": "pending", "io.github.acme/gone": "approved"}
    # Upstream `deleted` is never served, whatever a policy approved.
    assert list(Listing.objects.filter(is_served=True).values_list("name", flat=True)) == ["io.github.acme/tool"]
    assert AuditEvent.objects.filter(action="server_discovered", actor_name="sync").count() == 4
    assert set(AuditEvent.objects.filter(actor_name__startswith="policy:").values_list("actor_name", "action")) == {
        ("policy:acme", "server_approved"), ("policy:no-pypi", "server_blocked")}


@pytest.mark.django_db
def test_a_content_change_moves_updated_at_even_from_a_worker_whose_clock_lags(upstream, monkeypatch):
    """The projection stamps with the database's clock; the sync's `changed_at` must come from it too."""
    Policy.objects.create(name="acme", priority=10, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    servers = upstream.get(f"{UPSTREAM}/v0.1/servers")
    servers.mock(return_value=httpx.Response(200, json={"servers": [entry("io.github.acme/tool", "1.0.0")],
                                                        "metadata": {"count": 1}}))
    sync_run_execute(full=True, upstream_url=UPSTREAM)
    stamped = Listing.objects.get().updated_at

    lagging = timezone.now() - timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: lagging)
    servers.mock(return_value=httpx.Response(200, json={"servers": [
        entry("io.github.acme/tool", "1.0.0", description="Now with more tools")], "metadata": {"count": 1}}))
    run = sync_run_execute(full=True, upstream_url=UPSTREAM)

    assert (run.outcome, run.changed) == (SyncOutcome.SUCCEEDED, 1)
    assert Listing.objects.get().updated_at > stamped


@pytest.mark.django_db
def test_an_upstream_edit_of_an_approved_version_is_audited_with_both_texts_and_stays_served(upstream, api_client):
    Policy.objects.create(name="acme", priority=10, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    servers = upstream.get(f"{UPSTREAM}/v0.1/servers")
    original = entry("io.github.acme/tool", "1.0.0")
    servers.mock(return_value=httpx.Response(200, json={"servers": [original], "metadata": {"count": 1}}))
    sync_run_execute(full=True, upstream_url=UPSTREAM)
    edited = entry("io.github.acme/tool", "1.0.0", remotes=[{"type": "streamable-http",
                                                             "url": "https://elsewhere.example.com/mcp"}])
    servers.mock(return_value=httpx.Response(200, json={"servers": [edited], "metadata": {"count": 1}}))

    run = sync_run_execute(full=True, upstream_url=UPSTREAM)

    assert (run.outcome, run.changed) == (SyncOutcome.SUCCEEDED, 1)
    event = AuditEvent.objects.get(action=AuditAction.UPSTREAM_CONTENT_CHANGED)
    assert (event.actor_name, event.actor, event.source, event.server_name, event.version) == (
        "sync", None, "sync", "io.github.acme/tool", "1.0.0")
    assert event.before == {"server": original["server"]} and event.after == {"server": edited["server"]}
    server = Server.objects.get()
    assert server_state(server) == "approved"
    served = api_client.get(f"/v0.1/servers/{quote(server.name, safe='')}/versions/1.0.0")
    assert served.status_code == 200 and served.json()["server"]["remotes"] == edited["server"]["remotes"]


@pytest.mark.django_db
def test_under_reviewed_an_approved_version_whose_server_json_changes_goes_back_to_pending(upstream, api_client,
                                                                                           settings):
    """Its approval was of the text it no longer has; under `all` the server's approval covers it (test above)."""
    settings.REGISTRY_DEFAULT_VERSION_POLICY = "reviewed"
    Policy.objects.create(name="acme", priority=10, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    servers = upstream.get(f"{UPSTREAM}/v0.1/servers")
    first, second = entry("io.github.acme/tool", "1.0.0"), entry("io.github.acme/tool", "1.1.0")
    servers.mock(return_value=httpx.Response(200, json={"servers": [first, second], "metadata": {"count": 2}}))
    sync_run_execute(full=True, upstream_url=UPSTREAM)
    edited = entry("io.github.acme/tool", "1.1.0", remotes=[{"type": "streamable-http",
                                                             "url": "https://elsewhere.example.com/mcp"}])
    servers.mock(return_value=httpx.Response(200, json={"servers": [first, edited], "metadata": {"count": 2}}))

    sync_run_execute(full=True, upstream_url=UPSTREAM)

    server = Server.objects.get()
    assert server_state(server) == "approved"
    assert {v.version: version_state(v) for v in server.versions.all()} == {"1.0.0": "approved", "1.1.0": "pending"}
    reset = AuditEvent.objects.get(action=AuditAction.VERSION_RESET)
    assert (reset.actor_name, reset.source, reset.version, reset.before, reset.after) == (
        "sync", "sync", "1.1.0", {"state": "approved"}, {"state": "pending"})
    latest = api_client.get(f"/v0.1/servers/{quote(server.name, safe='')}/versions/latest").json()
    assert latest["server"]["version"] == "1.0.0"
    assert api_client.get(f"/v0.1/servers/{quote(server.name, safe='')}/versions/1.1.0").status_code == 404
