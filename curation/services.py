"""Every curation write: decisions, version policies, org `_meta`, policy rules, sync effects.

Each service locks the server's `ServerCuration` row first (SELECT … FOR UPDATE, in primary-key
order when there are several), so concurrent curators and the sync take turns per server: the
second one re-reads the state the first one left, no audit event is lost, and the served
projection (`listing_refresh`) is always computed from committed decisions. The row, its audit
event and the projection change in one transaction. The projection is written last: its one
advisory lock (`_listing_stamp`), which puts `updated_at` stamps in commit order, is always taken
after the row locks and held only until commit.
"""

import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.utils import timezone

from curation.choices import (
    ALLOWED_TRANSITIONS,
    POLICY_EFFECT_STATES,
    SERVER_DECISION_ACTIONS,
    VERSION_DECISION_ACTIONS,
    AuditAction,
    AuditSource,
    CurationState,
    PolicyEffect,
    VersionPolicy,
)
from curation.meta import REGISTRY_FACT_KEYS, meta_validate
from curation.models import AuditEvent, Listing, Policy, ServerCuration, VersionCuration, timestamp_text
from curation.policies import policies_enabled, policy_first_match
from curation.selectors import POLICY_ACTOR_PREFIX, served_versions
from mirror.choices import UpstreamEventKind, UpstreamStatus
from mirror.models import Server, ServerVersion, UpstreamEvent
from mirror.services import rows_copy
from mirror.versioning import pick_latest

BATCH_SIZE = 1000
SYNC_ACTOR = "sync"


@dataclass(frozen=True)
class Actor:
    """Who is acting: the user (kept as a nullable FK) and the name recorded beside it."""

    user: object
    name: str

    @classmethod
    def of(cls, actor, actor_name, source) -> "Actor":
        user = actor if getattr(actor, "pk", None) else None
        return cls(user=user, name=actor_name or (user.get_username() if user else str(source)))


def _event(*, actor: Actor, source, action, server_name="", version="", before=None, after=None, reason="",
           at=None) -> AuditEvent:
    return AuditEvent(
        at=at or timezone.now(), actor=actor.user, actor_name=actor.name, source=source, action=action,
        server_name=server_name, version=version, before=before, after=after, reason=reason or "",
    )


def _check_transition(old: str, new: str) -> None:
    if new not in ALLOWED_TRANSITIONS.get(old, ()):
        raise ValidationError("Cannot move from %(old)s to %(new)s.", code="invalid_transition",
                              params={"old": old, "new": new})


class DecisionChanged(ValidationError):
    """The decision is no longer the one the curator saw: somebody decided in between, so nothing changed."""

    def __init__(self, *, subject: str, curation, expected_state):
        self.curation = curation
        params = {"subject": subject, "state": CurationState(curation.state).label.lower(),
                  "expected": CurationState(expected_state).label.lower()}
        if curation.decided_at is None:
            super().__init__("Nothing was changed: %(subject)s is %(state)s, not %(expected)s as shown. Review it, "
                             "then decide again.", code="decision_changed", params=params)
            return
        super().__init__(
            "Nothing was changed: since you saw %(subject)s as %(expected)s, %(actor)s set it to %(state)s at "
            "%(at)s, giving the reason “%(reason)s”. Review that decision, then decide again.",
            code="decision_changed",
            params={**params, "actor": curation.decided_by_name or "someone",
                    "at": timestamp_text(curation.decided_at), "reason": curation.reason},
        )


class DecisionsChanged(ValidationError):
    """Servers in a bulk decision were decided after the caller's page was shown: nothing changed."""

    SHOWN_NAMES = 10

    def __init__(self, *, names: list[str]):
        shown = ", ".join(names[:self.SHOWN_NAMES]) + (f" and {len(names) - self.SHOWN_NAMES} more"
                                                       if len(names) > self.SHOWN_NAMES else "")
        super().__init__("Nothing was changed: %(names)s %(verb)s decided by someone else after this page was shown "
                         "(the audit trail says who and why). Review the selection, then confirm again.",
                         code="decisions_changed", params={"names": shown, "verb": "was" if len(names) == 1 else "were"})


class MetaChanged(ValidationError):
    """The metadata is no longer the one the curator edited: somebody saved in between, so nothing changed."""

    def __init__(self, *, subject: str, curation):
        self.curation = curation
        super().__init__("Nothing was saved: the metadata of %(subject)s changed since you opened the editor (the "
                         "audit trail says who changed it and why). Review it, then save again.",
                         code="meta_changed", params={"subject": subject})


def _check_unchanged(curation, *, expected_state, subject: str) -> None:
    """Refuse when the caller decided from a state that is no longer current (the row is locked already)."""
    if expected_state is not None and curation.state != expected_state:
        raise DecisionChanged(subject=subject, curation=curation, expected_state=expected_state)


def _server_ids(servers) -> list[int]:
    if isinstance(servers, QuerySet):
        return list(servers.order_by().values_list("pk", flat=True))
    return [server.pk for server in servers]


# A new pending decision, for COPY: state, reason, decided_by, decided_by_name, decided_at, meta.
PENDING_COLUMNS = ("state", "reason", "decided_by_id", "decided_by_name", "decided_at", "meta")
PENDING_ROW = (CurationState.PENDING, "", None, "", None, "{}")


def _server_curations_lock(server_ids: Iterable[int], *, fresh: Collection[int] = ()) -> dict[int, ServerCuration]:
    """Lock (creating any missing, as pending) the curation rows of these servers, in pk order.

    `fresh`: servers created in this transaction, whose missing rows nobody else can be creating:
    those are COPYed in (the sync's discoveries), the others inserted ignoring a concurrent insert.
    """
    ids = sorted(set(server_ids))
    if not ids:
        return {}
    existing = set(ServerCuration.objects.filter(pk__any=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in existing]
    policy = settings.REGISTRY_DEFAULT_VERSION_POLICY
    rows_copy(model=ServerCuration, columns=("server_id", "version_policy", *PENDING_COLUMNS),
              rows=[(pk, policy, *PENDING_ROW) for pk in missing if pk in fresh])
    ServerCuration.objects.bulk_create(
        [ServerCuration(server_id=pk, version_policy=policy) for pk in missing if pk not in fresh],
        batch_size=BATCH_SIZE, ignore_conflicts=True,
    )
    locked = (ServerCuration.objects.select_for_update(of=("self",)).select_related("server")
              .filter(pk__any=ids).order_by("pk"))
    return {curation.pk: curation for curation in locked}


def _version_curations_ensure(*, server_ids=(), version_ids=(), fresh: Collection[int] = ()) -> None:
    """Create the missing (pending) curation rows of these servers' versions, or of these versions.

    `fresh`: versions created in this transaction (COPYed in, as in `_server_curations_lock`).
    """
    versions = ServerVersion.objects.filter(server_id__any=server_ids) if server_ids else \
        ServerVersion.objects.filter(pk__any=version_ids)
    candidates = list(versions.values_list("pk", flat=True))
    # Lookups by key rather than an anti-join, which stale statistics plan as a scan of every curation;
    # fresh versions cannot have one yet.
    present = set(VersionCuration.objects.filter(pk__any=[pk for pk in candidates if pk not in fresh])
                  .values_list("pk", flat=True))
    missing = [pk for pk in candidates if pk not in present]
    rows_copy(model=VersionCuration, columns=("version_id", *PENDING_COLUMNS),
              rows=[(pk, *PENDING_ROW) for pk in missing if pk in fresh])
    VersionCuration.objects.bulk_create(
        [VersionCuration(version_id=pk) for pk in missing if pk not in fresh],
        batch_size=BATCH_SIZE, ignore_conflicts=True,
    )


def _version_curations_lock(version_ids: Iterable[int]) -> dict[int, VersionCuration]:
    ids = sorted(set(version_ids))
    _version_curations_ensure(version_ids=ids)
    locked = (VersionCuration.objects.select_for_update(of=("self",)).select_related("version__server")
              .filter(pk__any=ids).order_by("pk"))
    return {curation.pk: curation for curation in locked}


def _decision_set(curation, *, state, reason, actor: Actor, at) -> None:
    curation.state, curation.reason = state, reason or ""
    curation.decided_by, curation.decided_by_name, curation.decided_at = actor.user, actor.name, at


DECISION_FIELDS = ["state", "reason", "decided_by", "decided_by_name", "decided_at"]


def _pending_versions_approve(decisions: dict[int, tuple[Actor, str]], *, source, at) -> list[AuditEvent]:
    """Approve the pending versions of these servers, each with its own event: {server_id: (actor, reason)}."""
    if not decisions:
        return []
    _version_curations_ensure(server_ids=list(decisions))
    pending = list(
        VersionCuration.objects.select_for_update(of=("self",)).select_related("version__server")
        .filter(version__server_id__any=list(decisions), state=CurationState.PENDING).order_by("pk")
    )
    events, groups = [], defaultdict(list)
    for curation in pending:
        actor, reason = decisions[curation.version.server_id]
        groups[(actor, reason)].append(curation.pk)
        events.append(_event(
            actor=actor, source=source, action=AuditAction.VERSION_APPROVED, at=at,
            server_name=curation.version.server.name, version=curation.version.version,
            before={"state": CurationState.PENDING}, after={"state": CurationState.APPROVED}, reason=reason,
        ))
    # One UPDATE per distinct decision (one for a curator's bulk action, at most one per rule in a sync page).
    for (actor, reason), pks in groups.items():
        VersionCuration.objects.filter(pk__any=pks).update(
            state=CurationState.APPROVED, reason=reason or "", decided_by=actor.user, decided_by_name=actor.name,
            decided_at=at,
        )
    return events


# --- decisions --------------------------------------------------------------------------------

@transaction.atomic
def _server_decide(*, server: Server, state, reason, actor, actor_name, source, expected_state) -> bool:
    if expected_state is not None:
        curation = _server_curations_lock([server.pk])[server.pk]
        _check_unchanged(curation, expected_state=expected_state, subject=f"server {server.name}")
    return servers_decide_bulk(servers=[server], state=state, reason=reason, actor=actor, actor_name=actor_name,
                               source=source) > 0


# `expected_state`: the state the caller decided from; DecisionChanged (nothing changed) if it is not current.
def server_approve(*, server: Server, reason: str, actor=None, actor_name=None, source, expected_state=None) -> bool:
    """Approve a server; under `reviewed`, also approve each of its versions that is pending now."""
    return _server_decide(server=server, state=CurationState.APPROVED, reason=reason, actor=actor,
                          actor_name=actor_name, source=source, expected_state=expected_state)


def server_block(*, server: Server, reason: str, actor=None, actor_name=None, source, expected_state=None) -> bool:
    return _server_decide(server=server, state=CurationState.BLOCKED, reason=reason, actor=actor,
                          actor_name=actor_name, source=source, expected_state=expected_state)


def server_reset(*, server: Server, reason: str, actor=None, actor_name=None, source, expected_state=None) -> bool:
    return _server_decide(server=server, state=CurationState.PENDING, reason=reason, actor=actor,
                          actor_name=actor_name, source=source, expected_state=expected_state)


@transaction.atomic
def servers_decide_bulk(*, servers, state, reason: str, actor=None, actor_name=None, source,
                        decided_before: datetime | None = None) -> int:
    """Set these servers' state: one audit event per server that changed, one projection refresh.

    `decided_before`: when the caller's page was shown; DecisionsChanged (nothing changed) if any of
    these servers was decided since. Set-based whatever the number of servers: a constant number of
    queries per 1,000 rows.
    """
    state = CurationState(state)
    acting = Actor.of(actor, actor_name, source)
    now = timezone.now()
    curations = _server_curations_lock(_server_ids(servers))
    if decided_before is not None:
        decided_since = sorted(curation.server.name for curation in curations.values()
                               if curation.decided_at is not None and curation.decided_at > decided_before)
        if decided_since:
            raise DecisionsChanged(names=decided_since)
    changing = [curation for curation in curations.values() if curation.state != state]
    for curation in changing:
        _check_transition(curation.state, state)
    if not changing:
        return 0
    events = []
    for curation in changing:
        events.append(_event(
            actor=acting, source=source, action=SERVER_DECISION_ACTIONS[state], at=now,
            server_name=curation.server.name, before={"state": curation.state}, after={"state": state},
            reason=reason,
        ))
    changed_ids = [curation.pk for curation in changing]
    ServerCuration.objects.filter(pk__any=changed_ids).update(
        state=state, reason=reason or "", decided_by=acting.user, decided_by_name=acting.name, decided_at=now,
    )
    if state == CurationState.APPROVED:
        reviewed = [c.pk for c in changing if c.version_policy == VersionPolicy.REVIEWED]
        events += _pending_versions_approve({pk: (acting, reason) for pk in reviewed}, source=source, at=now)
    AuditEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)
    listing_refresh(server_ids=changed_ids)
    return len(changing)


@transaction.atomic
def _version_decide(*, version: ServerVersion, state, reason, actor, actor_name, source, expected_state) -> bool:
    acting = Actor.of(actor, actor_name, source)
    _server_curations_lock([version.server_id])
    curation = _version_curations_lock([version.pk])[version.pk]
    _check_unchanged(curation, expected_state=expected_state,
                     subject=f"version {curation.version.version} of {curation.version.server.name}")
    if curation.state == state:
        return False
    _check_transition(curation.state, state)
    now = timezone.now()
    event = _event(
        actor=acting, source=source, action=VERSION_DECISION_ACTIONS[state], at=now,
        server_name=curation.version.server.name, version=curation.version.version,
        before={"state": curation.state}, after={"state": state}, reason=reason,
    )
    _decision_set(curation, state=state, reason=reason, actor=acting, at=now)
    curation.save(update_fields=DECISION_FIELDS)
    event.save()
    listing_refresh(server_ids=[version.server_id])
    return True


def version_approve(*, version: ServerVersion, reason: str, actor=None, actor_name=None, source,
                    expected_state=None) -> bool:
    return _version_decide(version=version, state=CurationState.APPROVED, reason=reason, actor=actor,
                           actor_name=actor_name, source=source, expected_state=expected_state)


def version_block(*, version: ServerVersion, reason: str, actor=None, actor_name=None, source,
                  expected_state=None) -> bool:
    return _version_decide(version=version, state=CurationState.BLOCKED, reason=reason, actor=actor,
                           actor_name=actor_name, source=source, expected_state=expected_state)


def version_reset(*, version: ServerVersion, reason: str, actor=None, actor_name=None, source,
                  expected_state=None) -> bool:
    return _version_decide(version=version, state=CurationState.PENDING, reason=reason, actor=actor,
                           actor_name=actor_name, source=source, expected_state=expected_state)


@transaction.atomic
def server_set_version_policy(*, server: Server, policy, reason: str, actor=None, actor_name=None, source) -> bool:
    """Change which versions of the server are admitted.

    Switching an approved server to `reviewed` approves the versions pending at that moment (each
    with its own event), exactly as approving it under `reviewed` would: what is served today stays
    served, and only versions discovered from now on wait for review.
    """
    if policy not in VersionPolicy.values:
        raise ValidationError("Unknown version policy %(policy)r: use one of %(choices)s.", code="invalid_policy",
                              params={"policy": policy, "choices": ", ".join(VersionPolicy.values)})
    acting = Actor.of(actor, actor_name, source)
    curation = _server_curations_lock([server.pk])[server.pk]
    if curation.version_policy == policy:
        return False
    now = timezone.now()
    events = [_event(
        actor=acting, source=source, action=AuditAction.VERSION_POLICY_CHANGED, at=now, server_name=server.name,
        before={"version_policy": curation.version_policy}, after={"version_policy": policy}, reason=reason,
    )]
    curation.version_policy = policy
    curation.save(update_fields=["version_policy"])
    if policy == VersionPolicy.REVIEWED and curation.state == CurationState.APPROVED:
        events += _pending_versions_approve({server.pk: (acting, reason)}, source=source, at=now)
    AuditEvent.objects.bulk_create(events)
    listing_refresh(server_ids=[server.pk])
    return True


# --- organisation metadata --------------------------------------------------------------------

@transaction.atomic
def meta_update(*, server: Server, version: ServerVersion | None = None, meta, reason: str, actor=None,
                actor_name=None, source, expected_meta: dict | None = None) -> bool:
    """Replace the org `_meta` object of a server (or of one of its versions); ValidationError if refused.

    `expected_meta`: the object the caller edited; MetaChanged (nothing changed) if it is not current.
    """
    meta = meta_validate(meta)
    if version is not None and version.server_id != server.pk:
        raise ValidationError("Version %(version)s does not belong to %(server)s.", code="wrong_server",
                              params={"version": version.version, "server": server.name})
    acting = Actor.of(actor, actor_name, source)
    curation = _server_curations_lock([server.pk])[server.pk]
    if version is not None:
        curation = _version_curations_lock([version.pk])[version.pk]
    if expected_meta is not None and curation.meta != expected_meta:
        raise MetaChanged(subject=f"{server.name} {version.version}" if version else server.name, curation=curation)
    if curation.meta == meta:
        return False
    AuditEvent.objects.create(
        at=timezone.now(), actor=acting.user, actor_name=acting.name, source=source,
        action=AuditAction.META_UPDATED, server_name=server.name, version=version.version if version else "",
        before=curation.meta, after=meta, reason=reason,
    )
    curation.meta = meta
    curation.save(update_fields=["meta"])
    listing_refresh(server_ids=[server.pk])
    return True


# --- policy rules -----------------------------------------------------------------------------

POLICY_AUDIT_FIELDS = ["name", "priority", "enabled", "effect", "name_glob", "registry_type", "identifier_glob",
                       "remote_host"]


def _policy_fields(policy: Policy) -> dict:
    return model_to_dict(policy, fields=POLICY_AUDIT_FIELDS)


@transaction.atomic
def policy_save(*, policy: Policy, reason: str, actor=None, actor_name=None, source) -> Policy:
    """Create or update a rule; the audit event holds the fields before and after."""
    policy.full_clean()
    acting = Actor.of(actor, actor_name, source)
    stored = Policy.objects.select_for_update().filter(pk=policy.pk).first() if policy.pk else None
    before = _policy_fields(stored) if stored else None
    policy.save()
    after = _policy_fields(policy)
    if before != after:
        AuditEvent.objects.create(
            actor=acting.user, actor_name=acting.name, source=source,
            action=AuditAction.POLICY_UPDATED if stored else AuditAction.POLICY_CREATED,
            before=before, after=after, reason=reason,
        )
    return policy


@transaction.atomic
def policy_delete(*, policy: Policy, reason: str, actor=None, actor_name=None, source) -> None:
    acting = Actor.of(actor, actor_name, source)
    stored = Policy.objects.select_for_update().filter(pk=policy.pk).first()
    if stored is None:
        return
    AuditEvent.objects.create(
        actor=acting.user, actor_name=acting.name, source=source, action=AuditAction.POLICY_DELETED,
        before=_policy_fields(stored), after=None, reason=reason,
    )
    stored.delete()


# --- what the sync saw ------------------------------------------------------------------------

UPSTREAM_EVENT_ACTIONS = {
    UpstreamEventKind.SERVER_DISCOVERED: AuditAction.SERVER_DISCOVERED,
    UpstreamEventKind.VERSION_DISCOVERED: AuditAction.VERSION_DISCOVERED,
    UpstreamEventKind.STATUS_CHANGED: AuditAction.UPSTREAM_STATUS_CHANGED,
    UpstreamEventKind.CONTENT_CHANGED: AuditAction.UPSTREAM_CONTENT_CHANGED,
    UpstreamEventKind.MISSING_UPSTREAM: AuditAction.MISSING_UPSTREAM,
    UpstreamEventKind.REAPPEARED_UPSTREAM: AuditAction.REAPPEARED_UPSTREAM,
}


def _upstream_audit_event(event: UpstreamEvent, *, server_name: str, version: str, actor: Actor,
                          server_json: str | None) -> AuditEvent:
    """`server_json`: the version's stored text, which a content change's `after` shows."""
    if event.kind == UpstreamEventKind.CONTENT_CHANGED:
        before = {"server": json.loads(event.previous_server_json)}
        after = {"server": json.loads(server_json)}
    else:
        before = {"status": event.old_status} if event.old_status else None
        after = {"status": event.new_status} if event.new_status else None
        if after is not None and event.upstream_at:
            after["upstreamAt"] = event.upstream_at.isoformat()
    return _event(
        actor=actor, source=AuditSource.SYNC, action=UPSTREAM_EVENT_ACTIONS[event.kind], at=event.recorded_at,
        server_name=server_name, version=version, before=before, after=after, reason=event.status_message,
    )


def _policy_actor(rule: Policy) -> tuple[Actor, str]:
    return Actor(user=None, name=f"{POLICY_ACTOR_PREFIX}{rule.name}"), f"Matched policy rule “{rule.name}”"


class _VersionFacts(NamedTuple):
    """What curating a sync batch needs of a version, read without building model instances."""

    version: str
    document: dict | None = None  # read only when enabled policy rules need it


@transaction.atomic
def mirror_changes_curate(*, events: list[UpstreamEvent], server_ids: Iterable[int]) -> None:
    """Curation's side of one sync page: audit what upstream did, apply policy rules, refresh the projection.

    New servers start pending under REGISTRY_DEFAULT_VERSION_POLICY (as do servers mirrored before
    curation existed). A matching rule decides a new server; under `reviewed` an approve also
    approves its versions still pending. Every new version, a new server's included, gets the rule
    its own document matches at version level (unless that is the rule deciding its new server):
    block always (a compromised release); approve and leave-pending only under `reviewed`, the only
    policy where a version's own approval changes what is served. Versions go first, so that a
    new server's approval never approves a release another rule blocks. A changed server.json is
    audited with both texts; under `reviewed` an approved version whose text changed goes back to
    pending, as its approval was of the text it no longer has (under `all` the server's approval
    covers whatever its versions read). A constant number of queries per page, whatever its size.
    """
    touched = set(server_ids) | {event.server_id for event in events}
    if not touched:
        return
    now = timezone.now()
    sync_actor = Actor(user=None, name=SYNC_ACTOR)
    discovered_servers = {e.server_id: e for e in events if e.kind == UpstreamEventKind.SERVER_DISCOVERED}
    curations = _server_curations_lock(touched, fresh=discovered_servers.keys())
    _version_curations_ensure(server_ids=list(touched), fresh={
        e.version_id for e in events if e.kind == UpstreamEventKind.VERSION_DISCOVERED and e.version_id
    })
    discovering = discovered_servers or any(e.kind == UpstreamEventKind.VERSION_DISCOVERED for e in events)
    rules = policies_enabled() if discovering else []
    version_ids = {event.version_id for event in events if event.version_id}
    # Documents only for the rules to match: decoding them is a large part of a discovery batch.
    fields = ("id", "version", "document") if rules else ("id", "version")
    versions = {pk: _VersionFacts(*facts)
                for pk, *facts in ServerVersion.objects.filter(pk__any=version_ids).values_list(*fields)}
    edited = [e for e in events if e.kind == UpstreamEventKind.CONTENT_CHANGED]
    edited_texts = dict(ServerVersion.objects.filter(pk__any=[e.version_id for e in edited])
                        .values_list("id", "server_json")) if edited else {}

    audit = []
    for event in events:
        version = versions.get(event.version_id)
        audit.append(_upstream_audit_event(event, server_name=curations[event.server_id].server.name,
                                           version=version.version if version else "", actor=sync_actor,
                                           server_json=edited_texts.get(event.version_id)))

    discovered_versions = [e for e in events if e.kind == UpstreamEventKind.VERSION_DISCOVERED
                           and e.version_id in versions]
    if rules:
        server_rules = _discovered_server_rules(discovered_servers, curations, versions, rules)
        audit += _versions_policy_apply(discovered_versions, curations, versions, rules, now,
                                        server_rules=server_rules)
        audit += _servers_policy_apply(server_rules, curations, now)

    audit += _edited_reviewed_versions_reset(
        [e.version_id for e in edited if curations[e.server_id].version_policy == VersionPolicy.REVIEWED],
        actor=sync_actor, at=now)

    _audit_events_write(audit)
    listing_refresh(server_ids=touched)


def _edited_reviewed_versions_reset(version_ids: list[int], *, actor: Actor, at) -> list[AuditEvent]:
    """Back to pending, those of these versions that were approved: upstream changed their server.json since."""
    if not version_ids:
        return []
    approved = list(VersionCuration.objects.select_for_update(of=("self",)).select_related("version__server")
                    .filter(pk__any=version_ids, state=CurationState.APPROVED).order_by("pk"))
    reason = "Upstream changed its server.json after it was approved: review it again."
    VersionCuration.objects.filter(pk__any=[curation.pk for curation in approved]).update(
        state=CurationState.PENDING, reason=reason, decided_by=actor.user, decided_by_name=actor.name, decided_at=at)
    return [
        _event(actor=actor, source=AuditSource.SYNC, action=AuditAction.VERSION_RESET, at=at,
               server_name=curation.version.server.name, version=curation.version.version,
               before={"state": CurationState.APPROVED}, after={"state": CurationState.PENDING}, reason=reason)
        for curation in approved
    ]


AUDIT_COLUMNS = ("at", "actor_id", "actor_name", "source", "action", "server_name", "version", "before", "after",
                 "reason")


def _audit_events_write(events: list[AuditEvent]) -> None:
    """COPY a sync page's audit events in, in order (the trail is append-only: nothing can conflict)."""
    rows_copy(model=AuditEvent, columns=AUDIT_COLUMNS, rows=[
        (event.at, event.actor_id, event.actor_name, event.source, event.action, event.server_name, event.version,
         _json_or_null(event.before), _json_or_null(event.after), event.reason)
        for event in events
    ])


def _json_or_null(value) -> str | None:
    return None if value is None else json.dumps(value)


def _discovered_server_rules(discovered: dict[int, UpstreamEvent], curations, versions, rules) -> dict[int, Policy]:
    """{server_id: the rule deciding it} for the new servers a rule matches, by the document each came with."""
    documents = {server_id: versions[event.version_id].document
                 for server_id, event in discovered.items() if event.version_id in versions}
    undocumented = set(discovered) - set(documents)
    if undocumented:
        for version in ServerVersion.objects.filter(server_id__any=undocumented).only("server_id", "document"):
            documents.setdefault(version.server_id, version.document)
    matched = {}
    for server_id in discovered:
        rule = policy_first_match(rules, documents.get(server_id, {"name": curations[server_id].server.name}))
        if rule is not None:
            matched[server_id] = rule
    return matched


def _servers_policy_apply(server_rules: dict[int, Policy], curations, now) -> list[AuditEvent]:
    audit, decided, approve_versions = [], [], {}
    for server_id, rule in server_rules.items():
        curation = curations[server_id]
        if curation.state != CurationState.PENDING:
            continue
        actor, reason = _policy_actor(rule)
        state = POLICY_EFFECT_STATES[rule.effect]
        if state == CurationState.PENDING:
            audit.append(_event(actor=actor, source=AuditSource.SYNC, action=AuditAction.POLICY_MATCHED, at=now,
                                server_name=curation.server.name, after={"state": state}, reason=reason))
            continue
        audit.append(_event(actor=actor, source=AuditSource.SYNC, action=SERVER_DECISION_ACTIONS[state], at=now,
                            server_name=curation.server.name, before={"state": curation.state},
                            after={"state": state}, reason=reason))
        _decision_set(curation, state=state, reason=reason, actor=actor, at=now)
        decided.append(curation)
        if state == CurationState.APPROVED and curation.version_policy == VersionPolicy.REVIEWED:
            approve_versions[server_id] = (actor, reason)
    ServerCuration.objects.bulk_update(decided, DECISION_FIELDS, batch_size=BATCH_SIZE)
    return audit + _pending_versions_approve(approve_versions, source=AuditSource.SYNC, at=now)


def _versions_policy_apply(discovered: list[UpstreamEvent], curations, versions, rules, now, *,
                           server_rules: dict[int, Policy]) -> list[AuditEvent]:
    """`server_rules`: the rules deciding new servers; their versions that rule matches too are left to it."""
    matches = {}
    for event in discovered:
        reviewed = curations[event.server_id].version_policy == VersionPolicy.REVIEWED
        rule = policy_first_match(rules, versions[event.version_id].document)
        if rule is None or rule == server_rules.get(event.server_id):
            continue
        if rule.effect == PolicyEffect.BLOCK or reviewed:
            matches[event.version_id] = rule
    if not matches:
        return []
    audit, decided = [], []
    for version_id, curation in _version_curations_lock(matches).items():
        rule = matches[version_id]
        actor, reason = _policy_actor(rule)
        state = POLICY_EFFECT_STATES[rule.effect]
        server_name, version = curation.version.server.name, curation.version.version
        if state == CurationState.PENDING or curation.state != CurationState.PENDING:
            if state == CurationState.PENDING:
                audit.append(_event(actor=actor, source=AuditSource.SYNC, action=AuditAction.POLICY_MATCHED, at=now,
                                    server_name=server_name, version=version, after={"state": state},
                                    reason=reason))
            continue
        audit.append(_event(actor=actor, source=AuditSource.SYNC, action=VERSION_DECISION_ACTIONS[state], at=now,
                            server_name=server_name, version=version, before={"state": curation.state},
                            after={"state": state}, reason=reason))
        _decision_set(curation, state=state, reason=reason, actor=actor, at=now)
        decided.append(curation)
    VersionCuration.objects.bulk_update(decided, DECISION_FIELDS, batch_size=BATCH_SIZE)
    return audit


# --- the served projection --------------------------------------------------------------------

class _ListingSource(NamedTuple):
    """What the projection needs of one version, read without building model instances."""

    id: int
    server_id: int
    version: str
    published_at: datetime
    status: str
    changed_at: datetime


class _ServerDecision(NamedTuple):
    state: str
    meta: dict
    decided_by_name: str
    decided_at: datetime | None


class _VersionDecision(NamedTuple):
    state: str
    meta: dict


def _org_meta(server: _ServerDecision | None, version: _VersionDecision | None) -> dict:
    """Curator metadata (version keys over server keys), then the registry's facts, which always win."""
    meta = {**(server.meta if server else {}), **(version.meta if version else {})}
    for key in REGISTRY_FACT_KEYS:
        meta.pop(key, None)
    state = server.state if server else CurationState.PENDING
    meta["curationState"] = state
    if version and version.state != CurationState.PENDING:
        meta["versionCurationState"] = version.state
    if state == CurationState.APPROVED:
        meta["approvedBy"] = server.decided_by_name
        meta["approvedAt"] = server.decided_at.isoformat() if server.decided_at else None
    return meta


# pg_advisory_xact_lock key that orders the projection's `updated_at` stamps ("listings" as a big-endian integer).
LISTING_STAMP_LOCK_KEY = int.from_bytes(b"listings", "big")


@transaction.atomic
def listing_refresh(*, server_ids: Iterable[int]) -> int:
    """Recompute the served projection for these servers; return how many listings changed.

    An entry's `updated_at` moves whenever what the API would serve for it changes
    (served or not, latest or not, org metadata, upstream content or status), so
    `updated_since` consumers see approvals, blocks and withdrawals. Callers lock the servers'
    curation rows first, and make this their transaction's last write (see `_listing_stamp`).
    """
    ids = sorted(set(server_ids))
    if not ids:
        return 0
    # One table per query, each by primary or foreign key: while a first sync fills the tables faster
    # than autovacuum analyses them, joins get planned as hash joins over whole tables.
    sources = list(map(_ListingSource._make, ServerVersion.objects.filter(server_id__any=ids)
                       .values_list(*_ListingSource._fields)))
    version_ids = [source.id for source in sources]
    names = dict(Server.objects.filter(id__any=ids).values_list("id", "name"))
    server_decisions = {row[0]: _ServerDecision(*row[1:]) for row in ServerCuration.objects.filter(pk__any=ids)
                        .values_list("pk", *_ServerDecision._fields)}
    version_decisions = {row[0]: _VersionDecision(*row[1:]) for row in VersionCuration.objects
                         .filter(pk__any=version_ids).values_list("pk", *_VersionDecision._fields)}
    served_ids = set(served_versions().filter(server_id__any=ids).values_list("id", flat=True))
    existing = {listing.version_id: listing for listing in Listing.objects.filter(pk__any=version_ids)}
    latest_ids = _latest_listed(sources, served_ids=served_ids, existing=existing)

    to_create, to_update, withdrawing = [], [], []
    for source in sources:
        is_served = source.id in served_ids
        is_latest = source.id in latest_ids
        org_meta = _org_meta(server_decisions.get(source.server_id), version_decisions.get(source.id))
        listing = existing.get(source.id)
        if listing is None:
            to_create.append((source.id, names[source.server_id], source.version, is_served, is_latest,
                              json.dumps(org_meta), source.changed_at))
            continue
        moved = (listing.is_served, listing.is_latest, listing.org_meta) != (is_served, is_latest, org_meta)
        if not moved and source.changed_at == listing.version_changed_at:
            continue
        listing.version_changed_at = source.changed_at
        if listing.is_served and not is_served:
            withdrawing.append(listing)
        elif is_served:
            listing.withdrawn_at = None
        listing.is_served, listing.is_latest, listing.org_meta = is_served, is_latest, org_meta
        to_update.append(listing)
    if not (to_create or to_update):
        return 0

    stamp = _listing_stamp()
    for listing in to_update:
        listing.updated_at = stamp
    for listing in withdrawing:
        listing.withdrawn_at = stamp
    # COPY fails on a concurrently inserted listing, as the plain INSERT it replaces did.
    rows_copy(model=Listing, columns=LISTING_COLUMNS, rows=[(*row, stamp, None) for row in to_create])
    _listings_update(to_update)
    return len(to_create) + len(to_update)


def _latest_listed(sources: list[_ListingSource], *, served_ids: set[int], existing: dict[int, Listing]) -> set[int]:
    """Upstream's `isLatest` rule over what the API shows with `include_deleted`: the latest served
    version of each server or, when none is served, the latest of its tombstones."""
    shown_by_server = defaultdict(list)
    for source in sources:
        listing = existing.get(source.id)
        if source.id in served_ids:
            shown_by_server[source.server_id].append(source._replace(status=UpstreamStatus.ACTIVE))
        elif listing is not None and (listing.is_served or listing.withdrawn_at is not None):
            shown_by_server[source.server_id].append(source._replace(status=UpstreamStatus.DELETED))
    return {pick_latest(shown, deleted_status=UpstreamStatus.DELETED).id for shown in shown_by_server.values()}


def _listing_stamp() -> datetime:
    """The `updated_at` of this transaction's listing changes, in commit order.

    A client pulls with `updated_since` set to the highest `updatedAt` it has seen, so no change may
    become visible with a stamp below one already visible. The advisory lock, held until commit,
    lets one stamping transaction at a time through: each is stamped after the previous one
    committed, from the database's clock (one clock whatever host runs the transaction), and always
    past every stamp already committed. Every caller holds its servers' curation row locks before
    getting here, and after it only writes those servers' listings, which no transaction waiting
    for this lock has touched: waiting for it never closes a cycle.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LISTING_STAMP_LOCK_KEY])
        # A statement of its own: its snapshot must include the commit the lock waited for.
        cursor.execute(f"SELECT greatest(clock_timestamp(), max(updated_at) + interval '1 microsecond') "
                       f"FROM {Listing._meta.db_table}")
        return cursor.fetchone()[0]


LISTING_COLUMNS = ("version_id", "name", "version_string", "is_served", "is_latest", "org_meta",
                   "version_changed_at", "updated_at", "withdrawn_at")


LISTING_UPDATE_SQL = """
UPDATE curation_listing AS listing
SET is_served = new.is_served, is_latest = new.is_latest, org_meta = new.org_meta,
    version_changed_at = new.version_changed_at, updated_at = new.updated_at, withdrawn_at = new.withdrawn_at
FROM (VALUES {rows}) AS new (version_id, is_served, is_latest, org_meta, version_changed_at, updated_at, withdrawn_at)
WHERE listing.version_id = new.version_id
"""
LISTING_UPDATE_ROW = ("(%s::bigint, %s::boolean, %s::boolean, %s::jsonb, %s::timestamptz, %s::timestamptz, "
                      "%s::timestamptz)")


def _listings_update(listings: list[Listing]) -> None:
    """Write many listings with one UPDATE … FROM (VALUES …) per batch: linear, where bulk_update's CASE is not."""
    with connection.cursor() as cursor:
        for start in range(0, len(listings), BATCH_SIZE):
            batch = listings[start:start + BATCH_SIZE]
            params = []
            for listing in batch:
                params += [listing.version_id, listing.is_served, listing.is_latest, json.dumps(listing.org_meta),
                           listing.version_changed_at, listing.updated_at, listing.withdrawn_at]
            cursor.execute(LISTING_UPDATE_SQL.format(rows=", ".join([LISTING_UPDATE_ROW] * len(batch))), params)
