import pytest
from django.db import transaction
from django.utils import timezone

from curation.choices import AuditAction, PolicyEffect
from curation.models import AuditEvent, Listing, Policy, ServerCuration, VersionCuration
from mirror.choices import UpstreamEventKind
from mirror.models import Server, SyncRun, UpstreamEvent
from mirror.signals import mirror_changed
from tests.curation.curation_support import actions, mirrored, query_count, status_change, sync_page

pytestmark = pytest.mark.django_db


def test_discovered_servers_start_pending_under_the_default_version_policy(settings):
    settings.REGISTRY_DEFAULT_VERSION_POLICY = "reviewed"
    server = mirrored("io.github.acme/tool", ["1.0.0", "1.1.0"])
    sync_page(server)
    curation = ServerCuration.objects.get(pk=server.pk)
    assert (curation.state, curation.version_policy, curation.decided_at) == ("pending", "reviewed", None)
    assert set(VersionCuration.objects.values_list("state", flat=True)) == {"pending"}
    assert Listing.objects.filter(version__server=server, is_served=False).count() == 2


def test_servers_mirrored_before_curation_existed_get_their_rows():
    server = mirrored("io.github.acme/old", ["1.0.0"])
    run = SyncRun.objects.create(mode="incremental", upstream_url="http://127.0.0.1:1")
    mirror_changed.send(sender=SyncRun, sync_run=run, events=[], server_ids={server.pk})
    assert ServerCuration.objects.get(pk=server.pk).state == "pending"
    assert VersionCuration.objects.filter(version__server=server).count() == 1
    assert Listing.objects.filter(version__server=server).count() == 1
    assert not AuditEvent.objects.exists()


def test_status_changes_and_disappearances_are_audited_as_sync():
    server = mirrored("io.github.acme/tool")
    sync_page(server)
    version = server.versions.get()
    status_change(version, "deprecated", message="use v2")
    now = timezone.now()
    events = [UpstreamEvent(kind=UpstreamEventKind.MISSING_UPSTREAM, server=server, recorded_at=now),
              UpstreamEvent(kind=UpstreamEventKind.REAPPEARED_UPSTREAM, server=server, recorded_at=now)]
    UpstreamEvent.objects.bulk_create(events)
    mirror_changed.send(sender=SyncRun, sync_run=None, events=events, server_ids=set())

    status = AuditEvent.objects.get(action=AuditAction.UPSTREAM_STATUS_CHANGED)
    assert (status.actor_name, status.source, status.version, status.reason) == ("sync", "sync", "1.0.0", "use v2")
    assert status.before == {"status": "active"} and status.after["status"] == "deprecated"
    assert actions(action__in=["missing_upstream", "reappeared_upstream"]) == [
        ("missing_upstream", "sync", "io.github.acme/tool", ""),
        ("reappeared_upstream", "sync", "io.github.acme/tool", ""),
    ]


def test_curation_rolls_back_with_the_page_transaction():
    server = mirrored("io.github.acme/tool")
    with pytest.raises(RuntimeError), transaction.atomic():
        sync_page(server)
        raise RuntimeError("the page failed after the signal")
    assert not ServerCuration.objects.exists() and not AuditEvent.objects.exists()


def _page(prefix: str, size: int):
    servers = [mirrored(f"io.github.{prefix}/s{i:03d}", ["1.0.0", "1.1.0"]) for i in range(size)]
    events = []
    for server in servers:
        first, second = server.versions.order_by("pk")
        events += [UpstreamEvent(kind=UpstreamEventKind.SERVER_DISCOVERED, server=server, version=first),
                   UpstreamEvent(kind=UpstreamEventKind.VERSION_DISCOVERED, server=server, version=first),
                   UpstreamEvent(kind=UpstreamEventKind.VERSION_DISCOVERED, server=server, version=second)]
    UpstreamEvent.objects.bulk_create(events)
    return events, {server.pk for server in servers}


@pytest.mark.parametrize("default_policy", ["all", "reviewed"])
def test_a_page_costs_a_constant_number_of_queries_whatever_its_size(settings, default_policy):
    settings.REGISTRY_DEFAULT_VERSION_POLICY = default_policy
    Policy.objects.create(name="approve-half", priority=1, name_glob="*/s0[0-4]*", effect=PolicyEffect.APPROVE)
    Policy.objects.create(name="block-rest", priority=2, name_glob="*", effect=PolicyEffect.BLOCK)

    def send(prefix, size):
        events, server_ids = _page(prefix, size)
        return query_count(lambda: mirror_changed.send(sender=SyncRun, sync_run=None, events=events,
                                                       server_ids=server_ids))

    small, large = send("small", 6), send("large", 60)

    assert small == large
    assert ServerCuration.objects.filter(server__name__startswith="io.github.large/", state="approved").count() == 50
    assert AuditEvent.objects.filter(server_name__startswith="io.github.large/").count() == 60 * 3 + 60 + (
        100 if default_policy == "reviewed" else 0)
    assert Server.objects.count() == 66 and Listing.objects.count() == 132
