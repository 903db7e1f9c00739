from django.conf import settings
from django.db import models
from django.utils import timezone

from curation.choices import AuditAction, AuditSource, CurationState, PolicyEffect, VersionPolicy


def timestamp_text(moment) -> str:
    """A moment as people read it here, in the active time zone: `2026-11-21 06:18:03 UTC`."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


class Decision(models.Model):
    """Who decided what, when and why: shared by server and version decisions."""

    state = models.CharField(max_length=16, choices=CurationState.choices, default=CurationState.PENDING)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # A copy of the actor: a username, `cli`, `sync` or `policy:<name>`.
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The company's own metadata, served under _meta[REGISTRY_META_NAMESPACE].
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class ServerCuration(Decision):
    server = models.OneToOneField("mirror.Server", primary_key=True, on_delete=models.PROTECT,
                                  related_name="curation")
    version_policy = models.CharField(max_length=16, choices=VersionPolicy.choices, default=VersionPolicy.ALL)

    class Meta:
        indexes = [models.Index(fields=["state"])]
        permissions = [("decide_server", "Can approve, block or reset servers and versions")]

    def __str__(self):
        return f"{self.server_id}: {self.state}"


class VersionCuration(Decision):
    version = models.OneToOneField("mirror.ServerVersion", primary_key=True, on_delete=models.PROTECT,
                                   related_name="curation")

    class Meta:
        indexes = [models.Index(fields=["state"])]


class Policy(models.Model):
    """A rule applied when the mirror discovers a server or version. Lowest priority first; first match wins."""

    name = models.CharField(max_length=100, unique=True)
    priority = models.IntegerField(default=100)
    enabled = models.BooleanField(default=True)
    name_glob = models.CharField(max_length=200, blank=True, help_text="e.g. io.github.acme-corp/*")
    registry_type = models.CharField(max_length=20, blank=True, help_text="npm, pypi, oci, nuget or mcpb")
    identifier_glob = models.CharField(max_length=255, blank=True,
                                       help_text="package identifier, e.g. @acme/*. An approve rule needs every "
                                                 "package to match; block and leave-pending need one.")
    remote_host = models.CharField(max_length=255, blank=True,
                                   help_text="remote URL host or host glob, e.g. mcp.acme.com or *.acme.com. An "
                                             "approve rule needs every remote to match; block and leave-pending "
                                             "need one.")
    effect = models.CharField(max_length=16, choices=PolicyEffect.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]
        verbose_name_plural = "policies"

    def __str__(self):
        return self.name


class AuditEvent(models.Model):
    """Append-only: a database trigger refuses UPDATE and DELETE on this table."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150)
    source = models.CharField(max_length=16, choices=AuditSource.choices)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    server_name = models.CharField(max_length=200, blank=True, db_index=True)
    version = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["action", "at"]), models.Index(fields=["actor_name", "at"])]
        permissions = [("export_auditevent", "Can export the audit trail")]

    def __str__(self):
        return f"{timestamp_text(self.at)} {self.actor_name} {self.action} {self.server_name} {self.version}".strip()


class Listing(models.Model):
    """What this registry publishes for one mirrored version: the served rule, precomputed.

    Maintained by `curation.services.listing_refresh` after every change that can move
    it, and read by the API: one indexed table, keyset-paged on (name, version_string).
    """

    version = models.OneToOneField("mirror.ServerVersion", primary_key=True, on_delete=models.CASCADE,
                                   related_name="listing")
    # Byte order ("C") so keyset paging matches the cursor comparison exactly.
    name = models.CharField(max_length=200, db_collation="C")
    version_string = models.CharField(max_length=255, db_collation="C")
    is_served = models.BooleanField(default=False)
    # Latest among the served versions of the name (not upstream's latest); while none is served, the
    # latest of its tombstones keeps it, as upstream's highest deleted version does.
    is_latest = models.BooleanField(default=False)
    # When this entry last changed in this registry (database clock, in commit order); a withdrawn
    # entry's withdrawal time.
    updated_at = models.DateTimeField()
    # The version's `changed_at` this listing last reflected: compared as it is, not with `updated_at`,
    # because the two come from different transactions and can commit in either order.
    version_changed_at = models.DateTimeField()
    # Set while a once-served version is withdrawn; served as a `deleted` tombstone.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # _meta[REGISTRY_META_NAMESPACE] as served: curator metadata plus the registry's own facts.
    org_meta = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "version_string"], name="listing_name_version")]
        indexes = [
            models.Index(fields=["name", "version_string"], condition=models.Q(is_served=True),
                         name="listing_served_keyset"),
            models.Index(fields=["updated_at"], name="listing_updated_at"),
        ]
