"""Mirrored rows, sync pages and audit helpers for the curation domain tests."""

from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from curation.models import AuditEvent, ServerCuration, VersionCuration
from mirror.choices import UpstreamEventKind
from mirror.models import SyncRun, UpstreamEvent
from mirror.signals import mirror_changed
from tests.factories import ServerFactory, ServerVersionFactory, server_document


def mirrored(name, versions=("1.0.0",), *, status="active", **document_extra):
    """A mirrored server with these versions, no curation rows (as the mirror leaves it)."""
    server = ServerFactory(name=name)
    for version in versions:
        ServerVersionFactory(server=server, version=version, status=status,
                             document=server_document(name, version, **document_extra))
    return server


def sync_page(*pages_servers, events=(), sync_run=None):
    """Send `mirror_changed` as the sync does for one page: discovery events for new servers' versions."""
    run = sync_run or SyncRun.objects.create(mode="full", upstream_url="http://127.0.0.1:1")
    created = []
    for server in pages_servers:
        versions = list(server.versions.order_by("pk"))
        created.append(UpstreamEvent(sync_run=run, kind=UpstreamEventKind.SERVER_DISCOVERED, server=server,
                                     version=versions[0] if versions else None))
        created.extend(UpstreamEvent(sync_run=run, kind=UpstreamEventKind.VERSION_DISCOVERED, server=server,
                                     version=version) for version in versions)
    created.extend(events)
    UpstreamEvent.objects.bulk_create(created)
    server_ids = {event.server_id for event in created}
    mirror_changed.send(sender=SyncRun, sync_run=run, events=created, server_ids=server_ids)
    return created


def new_versions_page(*versions, sync_run=None):
    """A page that only discovers new versions of already mirrored servers."""
    run = sync_run or SyncRun.objects.create(mode="incremental", upstream_url="http://127.0.0.1:1")
    events = [UpstreamEvent(sync_run=run, kind=UpstreamEventKind.VERSION_DISCOVERED, server_id=version.server_id,
                            version=version) for version in versions]
    UpstreamEvent.objects.bulk_create(events)
    mirror_changed.send(sender=SyncRun, sync_run=run, events=events, server_ids={v.server_id for v in versions})
    return events


def status_change(version, new_status, *, message=""):
    """Upstream changed a version's status: update the row as the sync does, then report it."""
    old_status = version.status
    version.status, version.status_message, version.changed_at = new_status, message, timezone.now()
    version.save(update_fields=["status", "status_message", "changed_at"])
    event = UpstreamEvent.objects.create(kind=UpstreamEventKind.STATUS_CHANGED, server_id=version.server_id,
                                         version=version, old_status=old_status, new_status=new_status,
                                         upstream_at=timezone.now(), status_message=message)
    mirror_changed.send(sender=SyncRun, sync_run=None, events=[event], server_ids={version.server_id})
    return event


def server_state(server) -> str:
    return ServerCuration.objects.get(pk=server.pk).state


def version_state(version) -> str:
    return VersionCuration.objects.get(pk=version.pk).state


def actions(**filters) -> list[tuple]:
    return list(AuditEvent.objects.filter(**filters).order_by("id")
                .values_list("action", "actor_name", "server_name", "version"))


def query_count(function) -> int:
    with CaptureQueriesContext(connection) as context:
        function()
    return len(context.captured_queries)


def user(username="alice", **fields) -> User:
    return User.objects.create_user(username=username, password="x", **fields)
