from django.db import models

# The package `registryType`s the official server.json schema names (its examples; it has no enum).
REGISTRY_TYPES = ("npm", "pypi", "oci", "nuget", "mcpb")


class CurationState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    BLOCKED = "blocked", "Blocked"


# Every state may move to every other; the map exists so a new state has to be thought through.
ALLOWED_TRANSITIONS = {
    CurationState.PENDING: {CurationState.APPROVED, CurationState.BLOCKED},
    CurationState.APPROVED: {CurationState.PENDING, CurationState.BLOCKED},
    CurationState.BLOCKED: {CurationState.PENDING, CurationState.APPROVED},
}


class VersionPolicy(models.TextChoices):
    ALL = "all", "All versions"
    REVIEWED = "reviewed", "Reviewed versions only"


class PolicyEffect(models.TextChoices):
    APPROVE = "approve", "Auto-approve"
    BLOCK = "block", "Auto-block"
    PENDING = "pending", "Leave pending"


class AuditSource(models.TextChoices):
    ADMIN = "admin", "Admin"
    CLI = "cli", "CLI"
    API = "api", "API"
    SYNC = "sync", "Sync"


class AuditAction(models.TextChoices):
    SERVER_APPROVED = "server_approved", "Server approved"
    SERVER_BLOCKED = "server_blocked", "Server blocked"
    SERVER_RESET = "server_reset", "Server reset to pending"
    VERSION_APPROVED = "version_approved", "Version approved"
    VERSION_BLOCKED = "version_blocked", "Version blocked"
    VERSION_RESET = "version_reset", "Version reset to pending"
    VERSION_POLICY_CHANGED = "version_policy_changed", "Version policy changed"
    META_UPDATED = "meta_updated", "Metadata updated"
    POLICY_CREATED = "policy_created", "Policy rule created"
    POLICY_UPDATED = "policy_updated", "Policy rule updated"
    POLICY_DELETED = "policy_deleted", "Policy rule deleted"
    POLICY_MATCHED = "policy_matched", "Policy rule left it pending"
    SERVER_DISCOVERED = "server_discovered", "Server discovered"
    VERSION_DISCOVERED = "version_discovered", "Version discovered"
    UPSTREAM_STATUS_CHANGED = "upstream_status_changed", "Upstream status changed"
    UPSTREAM_CONTENT_CHANGED = "upstream_content_changed", "Upstream server.json changed"
    MISSING_UPSTREAM = "missing_upstream", "Missing upstream"
    REAPPEARED_UPSTREAM = "reappeared_upstream", "Reappeared upstream"


SERVER_DECISION_ACTIONS = {
    CurationState.APPROVED: AuditAction.SERVER_APPROVED,
    CurationState.BLOCKED: AuditAction.SERVER_BLOCKED,
    CurationState.PENDING: AuditAction.SERVER_RESET,
}

VERSION_DECISION_ACTIONS = {
    CurationState.APPROVED: AuditAction.VERSION_APPROVED,
    CurationState.BLOCKED: AuditAction.VERSION_BLOCKED,
    CurationState.PENDING: AuditAction.VERSION_RESET,
}

# What a matching policy rule does to a discovered server or version.
POLICY_EFFECT_STATES = {
    PolicyEffect.APPROVE: CurationState.APPROVED,
    PolicyEffect.BLOCK: CurationState.BLOCKED,
    PolicyEffect.PENDING: CurationState.PENDING,
}

# At equal priority the more restrictive rule wins: block, then leave pending, then approve.
POLICY_EFFECT_PRECEDENCE = {PolicyEffect.BLOCK: 0, PolicyEffect.PENDING: 1, PolicyEffect.APPROVE: 2}
