"""The sync against a real HTTP upstream double on 127.0.0.1, with upstream's paging semantics."""

import json
from datetime import datetime, timezone
from io import StringIO

import pytest
import respx
import stamina
from django.core.management import call_command
from django.utils import timezone as django_timezone

from mirror.choices import SyncMode, SyncOutcome, UpstreamEventKind, UpstreamStatus
from mirror.models import SchemaDocument, Server, ServerVersion, UpstreamEvent
from mirror.services import sync_run_execute
from tests.integration.upstream_double import (
    SCHEMA_2025_12_11,
    FakeRegistry,
    Fault,
    UpstreamDouble,
    generated_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PUBLISHED = datetime(2025, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _no_backoff_sleeps(settings):
    settings.MIRROR_RETRY_ATTEMPTS = 3
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture
def schema_cached(shared_file):
    """The official schema as a previous run left it in the database: nothing is fetched."""
    SchemaDocument.objects.create(url=SCHEMA_2025_12_11, body=shared_file("server.schema.2025-12-11.json").read_text())


@pytest.fixture
def double(schema_cached, settings):
    # Loopback only: respx lets 127.0.0.1 through and fails the test on any other host.
    with respx.mock(assert_all_called=False) as router, UpstreamDouble(FakeRegistry()) as upstream:
        router.route(host="127.0.0.1").pass_through()
        settings.MIRROR_UPSTREAM_URL = upstream.url
        yield upstream


def test_seed_and_generated_data_mirror_faithfully_then_incrementally(double, shared_file):
    seed = json.loads(shared_file("seed.json").read_text())
    legacy = json.loads(shared_file("seed-legacy-2025-09-29.json").read_text())
    for index in range(120):
        for minor in range(2):
            double.registry.publish(generated_server(index, f"1.{minor}.0"), at=PUBLISHED)
    for document in seed + legacy:
        double.registry.publish(document, at=PUBLISHED)

    full = sync_run_execute(upstream_url=double.url)

    # 240 generated + 4 seed + 215 valid legacy; the legacy seed's 143 invalid entries are rejected.
    assert (full.outcome, full.mode, full.error) == (SyncOutcome.SUCCEEDED, SyncMode.FULL, "")
    assert (full.pages, full.created, full.rejected) == (7, 459, 143)
    assert ServerVersion.objects.count() == 459 and len(double.requests) == 7
    assert all(request["include_deleted"] == "true" and "updated_since" not in request for request in double.requests)
    for document in seed:
        stored = ServerVersion.objects.get(server__name=document["name"], version=document["version"])
        assert json.loads(stored.server_json, object_pairs_hook=list) == json.loads(
            json.dumps(document), object_pairs_hook=list
        )
    airtable = {v.version: v for v in ServerVersion.objects.filter(server__name__endswith="/airtable-mcp-server")}
    assert airtable["1.7.3"].is_latest and not airtable["1.7.2"].is_latest

    now = django_timezone.now()
    double.registry.publish(generated_server(7, "2.0.0"), at=now)
    first_name = generated_server(0, "1.0.0")["name"]
    double.registry.set_status(first_name, "1.1.0", "deprecated", at=now, message="Use 2.x")

    incremental = sync_run_execute(upstream_url=double.url)

    assert incremental.mode == SyncMode.INCREMENTAL and incremental.outcome == SyncOutcome.SUCCEEDED
    assert (incremental.created, incremental.status_changed, incremental.unchanged) == (1, 1, 0)
    assert double.requests[-1]["updated_since"].endswith("Z")
    seven = Server.objects.get(name=generated_server(7, "1.0.0")["name"])
    assert seven.latest_version.version == "2.0.0"
    assert ServerVersion.objects.get(server__name=first_name, version="1.1.0").status == UpstreamStatus.DEPRECATED


def test_an_exactly_full_last_page_is_followed_by_an_empty_one(double, settings):
    settings.MIRROR_PAGE_SIZE = 3
    for index in range(6):
        double.registry.publish(generated_server(index, "1.0.0"), at=PUBLISHED)

    run = sync_run_execute(upstream_url=double.url)

    assert (run.pages, run.created) == (3, 6)
    assert [request.get("cursor", "") for request in double.requests][0] == ""
    assert double.requests[2]["cursor"] == f"{generated_server(5, '1.0.0')['name']}:1.0.0"


@pytest.mark.parametrize("first, second", [
    (Fault(status=503), Fault(status=429, headers={"Retry-After": "1"})),
    ("closed-mid-body", "json-cut-short"),
])
def test_transient_faults_over_http_are_retried(double, first, second):
    double.registry.publish(generated_server(1, "1.0.0"), at=PUBLISHED)
    body = json.dumps(double.registry.respond({"limit": "100"})[1]).encode()
    broken = {
        "closed-mid-body": Fault(body=body, short_by=500),  # the connection closes before the declared length
        "json-cut-short": Fault(body=body[:-40]),  # a complete HTTP response whose JSON is truncated
    }
    double.inject(*(broken[fault] if isinstance(fault, str) else fault for fault in (first, second)))

    run = sync_run_execute(upstream_url=double.url)

    assert (run.outcome, run.created) == (SyncOutcome.SUCCEEDED, 1)
    assert len(double.requests) == 3 and not double.faults


def test_an_outage_fails_the_run_and_the_next_run_catches_up(double, settings):
    settings.MIRROR_PAGE_SIZE = 2
    for index in range(4):
        double.registry.publish(generated_server(index, "1.0.0"), at=PUBLISHED)
    double.inject(Fault(status=500), Fault(status=500), Fault(status=500))

    failed = sync_run_execute(upstream_url=double.url)
    assert failed.outcome == SyncOutcome.FAILED and "HTTP 500" in failed.error and failed.pages == 0

    recovered = sync_run_execute(upstream_url=double.url)
    assert recovered.mode == SyncMode.FULL and recovered.outcome == SyncOutcome.SUCCEEDED
    assert recovered.created == 4


def test_an_upstream_reset_flags_missing_servers_and_the_command_reports(double):
    for index in range(3):
        double.registry.publish(generated_server(index, "1.0.0"), at=PUBLISHED)
    sync_run_execute(upstream_url=double.url)
    double.registry.remove_all()
    double.registry.publish(generated_server(0, "1.0.0"), at=PUBLISHED)
    out = StringIO()

    call_command("mirror_sync", "--full", "--upstream", double.url, stdout=out)

    assert out.getvalue().startswith("Full sync succeeded in ")
    assert out.getvalue().rstrip().endswith("1 pages, 0 created, 0 changed, 0 status changed, 1 unchanged, 0 rejected")
    missing = Server.objects.filter(missing_upstream_since__isnull=False)
    assert missing.count() == 2 and ServerVersion.objects.count() == 3
    assert UpstreamEvent.objects.filter(kind=UpstreamEventKind.MISSING_UPSTREAM).count() == 2


def test_a_republish_after_a_reset_with_other_content_keeps_the_old_text_in_an_event(double):
    original = generated_server(0, "1.0.0")
    double.registry.publish(original, at=PUBLISHED)
    sync_run_execute(upstream_url=double.url)
    stored = ServerVersion.objects.get()
    double.registry.remove_all()
    republished = {**original, "packages": [{**original["packages"][0], "identifier": "@someone-else/tool"}]}
    double.registry.publish(republished, at=django_timezone.now())

    run = sync_run_execute(full=True, upstream_url=double.url)

    assert (run.outcome, run.changed, run.created) == (SyncOutcome.SUCCEEDED, 1, 0)
    assert json.loads(ServerVersion.objects.get().server_json) == republished
    event = UpstreamEvent.objects.get(kind=UpstreamEventKind.CONTENT_CHANGED)
    assert event.previous_server_json == stored.server_json and json.loads(event.previous_server_json) == original
