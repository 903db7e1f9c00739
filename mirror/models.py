from django.db import models
from django.utils import timezone

from mirror.choices import SyncMode, SyncOutcome, UpstreamEventKind, UpstreamStatus


class Server(models.Model):
    """One upstream server name: the aggregate that curation hangs its decisions on."""

    name = models.CharField(max_length=200, unique=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Set when a full sync no longer sees the name (an upstream data reset); never deleted.
    missing_upstream_since = models.DateTimeField(null=True, blank=True)
    # Upstream's latest version, recomputed locally (upstream flips isLatest without bumping updatedAt).
    latest_version = models.ForeignKey(
        "ServerVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ServerVersion(models.Model):
    """One upstream server version, its `server.json` kept exactly as received."""

    # No index of its own: the unique (server, version) index serves lookups by server.
    server = models.ForeignKey(Server, on_delete=models.PROTECT, related_name="versions", db_index=False)
    version = models.CharField(max_length=255)
    # The upstream `server` object serialised with its key order intact: what the API serves.
    server_json = models.TextField()
    # The same object as JSONB, for queries (package types, remotes, search).
    document = models.JSONField()
    content_hash = models.CharField(max_length=64)

    status = models.CharField(max_length=16, choices=UpstreamStatus.choices)
    status_changed_at = models.DateTimeField()
    status_message = models.TextField(blank=True)
    published_at = models.DateTimeField()
    upstream_updated_at = models.DateTimeField()
    is_latest = models.BooleanField(default=False)

    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # When the content or the status last changed here: what the served entry's updatedAt follows.
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["server", "version"], name="mirror_version_unique")]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["changed_at"])]

    def __str__(self):
        return f"{self.server.name}@{self.version}"


class SyncRun(models.Model):
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=SyncOutcome.choices, default=SyncOutcome.RUNNING)
    mode = models.CharField(max_length=16, choices=SyncMode.choices)
    upstream_url = models.CharField(max_length=500)
    # The `updated_since` sent upstream (incremental runs only).
    updated_since = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    status_changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # [{"name", "version", "reason"}] for the entries that failed the server.json schema.
    rejections = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self):
        return f"{self.mode} sync {self.started_at:%Y-%m-%d %H:%M} ({self.outcome})"


class UpstreamEvent(models.Model):
    """What the mirror saw happen upstream: discoveries, status and content changes, disappearances."""

    sync_run = models.ForeignKey(SyncRun, null=True, on_delete=models.SET_NULL, related_name="events")
    kind = models.CharField(max_length=32, choices=UpstreamEventKind.choices)
    server = models.ForeignKey(Server, on_delete=models.PROTECT, related_name="upstream_events")
    version = models.ForeignKey(
        ServerVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="upstream_events"
    )
    old_status = models.CharField(max_length=16, choices=UpstreamStatus.choices, blank=True)
    new_status = models.CharField(max_length=16, choices=UpstreamStatus.choices, blank=True)
    upstream_at = models.DateTimeField(null=True, blank=True)
    status_message = models.TextField(blank=True)
    # The server.json text a content change replaced, exactly as it was stored: nothing else keeps it.
    previous_server_json = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["kind", "recorded_at"])]


class SchemaDocument(models.Model):
    """An official server.json JSON Schema, fetched once and kept so later runs need no network."""

    url = models.CharField(max_length=500, unique=True)
    body = models.TextField()
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["url"]

    def __str__(self):
        return self.url
