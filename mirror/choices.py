from django.db import models


class UpstreamStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DEPRECATED = "deprecated", "Deprecated"
    DELETED = "deleted", "Deleted"


class SyncMode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class SyncOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class UpstreamEventKind(models.TextChoices):
    SERVER_DISCOVERED = "server_discovered", "Server discovered"
    VERSION_DISCOVERED = "version_discovered", "Version discovered"
    STATUS_CHANGED = "status_changed", "Status changed"
    CONTENT_CHANGED = "content_changed", "server.json changed"
    MISSING_UPSTREAM = "missing_upstream", "Missing upstream"
    REAPPEARED_UPSTREAM = "reappeared_upstream", "Reappeared upstream"
