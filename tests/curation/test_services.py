import json
import threading
import time
from datetime import datetime
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from api.rendering import OFFICIAL_NAMESPACE
from curation import services
from curation.choices import AuditAction, AuditSource, CurationState, PolicyEffect, VersionPolicy
from curation.models import AuditEvent, Listing, Policy, ServerCuration, VersionCuration
from mirror.models import Server
from tests.curation.curation_support import (
    actions,
    mirrored,
    new_versions_page,
    query_count,
    server_state,
    status_change,
    user,
    version_state,
)
from tests.factories import ServerVersionFactory

pytestmark = pytest.mark.django_db
CLI = {"actor_name": "cli", "source": AuditSource.CLI}


def served(server) -> set[str]:
    return set(Listing.objects.filter(version__server=server, is_served=True).values_list("version_string", flat=True))


def test_approve_records_decision_and_event_and_serves_at_once():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    alice = user("alice")

    assert services.server_approve(server=server, reason="SEC-1 reviewed", actor=alice, source=AuditSource.ADMIN)

    curation = ServerCuration.objects.get(pk=server.pk)
    assert (curation.state, curation.reason, curation.decided_by, curation.decided_by_name) == (
        "approved", "SEC-1 reviewed", alice, "alice")
    assert curation.decided_at is not None
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.actor_name, event.source, event.server_name, event.reason) == (
        AuditAction.SERVER_APPROVED, alice, "alice", "admin", "io.github.acme/one", "SEC-1 reviewed")
    assert (event.before, event.after) == ({"state": "pending"}, {"state": "approved"})
    assert served(server) == {"1.0.0", "1.1.0"}
    listing = Listing.objects.get(version__server=server, version_string="1.1.0")
    assert listing.is_latest and listing.org_meta["approvedBy"] == "alice"


def test_repeating_a_decision_changes_nothing_and_records_nothing():
    server = mirrored("io.github.acme/one")
    assert services.server_block(server=server, reason="no", **CLI)
    assert not services.server_block(server=server, reason="still no", **CLI)
    assert AuditEvent.objects.count() == 1
    assert ServerCuration.objects.get(pk=server.pk).reason == "no"


def test_actor_name_overrides_the_username_and_defaults_to_the_source():
    server = mirrored("io.github.acme/one")
    alice = user("alice")
    services.server_approve(server=server, reason="r", actor=alice, actor_name="policy:x", source=AuditSource.SYNC)
    services.server_block(server=server, reason="r", source=AuditSource.API)
    services.server_reset(server=server, reason="r", actor=alice, source=AuditSource.ADMIN)
    assert list(AuditEvent.objects.order_by("id").values_list("actor_name", "actor")) == [
        ("policy:x", alice.pk), ("api", None), ("alice", alice.pk)]


def test_block_withdraws_a_served_server_and_reset_keeps_it_withdrawn():
    server = mirrored("io.github.acme/one")
    services.server_approve(server=server, reason="ok", **CLI)
    services.server_block(server=server, reason="incident", **CLI)
    listing = Listing.objects.get(version__server=server)
    assert not listing.is_served and listing.withdrawn_at is not None
    services.server_reset(server=server, reason="re-review", **CLI)
    assert server_state(server) == "pending" and served(server) == set()
    assert [a for a, *_ in actions()] == ["server_approved", "server_blocked", "server_reset"]


def test_reviewed_policy_approving_a_server_approves_the_versions_pending_now_only():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0", "1.2.0"])
    services.server_set_version_policy(server=server, policy=VersionPolicy.REVIEWED, reason="strict", **CLI)
    bad = server.versions.get(version="1.2.0")
    services.version_block(version=bad, reason="compromised", **CLI)

    services.server_approve(server=server, reason="reviewed", **CLI)

    assert served(server) == {"1.0.0", "1.1.0"}
    assert version_state(bad) == "blocked"
    assert actions(action=AuditAction.VERSION_APPROVED) == [
        ("version_approved", "cli", "io.github.acme/one", "1.0.0"),
        ("version_approved", "cli", "io.github.acme/one", "1.1.0"),
    ]
    # A version discovered later arrives pending and is not served until approved on its own.
    later = ServerVersionFactory(server=server, version="2.0.0")
    new_versions_page(later)
    assert version_state(later) == "pending"
    assert served(server) == {"1.0.0", "1.1.0"}
    services.version_approve(version=later, reason="reviewed 2.0.0", **CLI)
    assert served(server) == {"1.0.0", "1.1.0", "2.0.0"}
    assert Listing.objects.get(version=later).is_latest


def test_blocking_one_version_of_an_approved_server():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    services.server_approve(server=server, reason="ok", **CLI)
    release = server.versions.get(version="1.1.0")

    assert services.version_block(version=release, reason="CVE-2026-1", actor=user("bob"), source=AuditSource.ADMIN)

    assert served(server) == {"1.0.0"}
    assert Listing.objects.get(version__server=server, version_string="1.0.0").is_latest
    event = AuditEvent.objects.get(action=AuditAction.VERSION_BLOCKED)
    assert (event.version, event.actor_name, event.before, event.after) == (
        "1.1.0", "bob", {"state": "pending"}, {"state": "blocked"})
    assert services.version_reset(version=release, reason="fixed upstream", **CLI)
    assert served(server) == {"1.0.0", "1.1.0"}


def test_a_transition_outside_the_map_is_refused_and_writes_nothing(monkeypatch):
    server = mirrored("io.github.acme/one")
    services.server_block(server=server, reason="no", **CLI)
    monkeypatch.setitem(services.ALLOWED_TRANSITIONS, CurationState.BLOCKED, {CurationState.PENDING})

    with pytest.raises(ValidationError, match="Cannot move from blocked to approved"):
        services.server_approve(server=server, reason="yes", **CLI)
    with pytest.raises(ValidationError):
        services.servers_decide_bulk(servers=[server], state=CurationState.APPROVED, reason="yes", **CLI)
    assert server_state(server) == "blocked" and AuditEvent.objects.count() == 1


def test_services_create_missing_curation_rows_with_the_default_policy(settings):
    settings.REGISTRY_DEFAULT_VERSION_POLICY = "reviewed"
    server = mirrored("io.github.acme/legacy")
    assert not ServerCuration.objects.exists()
    services.server_block(server=server, reason="old", **CLI)
    assert ServerCuration.objects.get(pk=server.pk).version_policy == "reviewed"


# --- bulk ------------------------------------------------------------------------------------

def test_bulk_decides_only_what_changes_with_one_event_each():
    servers = [mirrored(f"io.github.acme/s{i}") for i in range(4)]
    services.server_approve(server=servers[0], reason="earlier", **CLI)

    changed = services.servers_decide_bulk(servers=servers, state="approved", reason="batch", **CLI)

    assert changed == 3
    assert AuditEvent.objects.filter(action=AuditAction.SERVER_APPROVED, reason="batch").count() == 3
    assert Listing.objects.filter(is_served=True).count() == 4
    assert services.servers_decide_bulk(servers=servers, state="approved", reason="again", **CLI) == 0


def test_bulk_refuses_all_when_a_server_was_decided_after_the_callers_page():
    servers = [mirrored(f"io.github.acme/s{i}") for i in range(3)]
    shown_at = timezone.now()
    services.server_block(server=servers[2], reason="SEC-3: compromised", **CLI)

    with pytest.raises(services.DecisionsChanged, match="io.github.acme/s2 was decided by someone else"):
        services.servers_decide_bulk(servers=servers, state="approved", reason="batch", decided_before=shown_at, **CLI)

    assert dict(ServerCuration.objects.values_list("server__name", "state")) == {"io.github.acme/s2": "blocked"}
    assert not AuditEvent.objects.filter(reason="batch").exists()


def test_bulk_cascades_version_approvals_under_reviewed_policy(settings):
    settings.REGISTRY_DEFAULT_VERSION_POLICY = "reviewed"
    servers = [mirrored(f"io.github.acme/s{i}", ["1.0.0", "2.0.0"]) for i in range(3)]
    services.servers_decide_bulk(servers=servers, state="approved", reason="batch", **CLI)
    assert AuditEvent.objects.filter(action=AuditAction.VERSION_APPROVED).count() == 6
    assert Listing.objects.filter(is_served=True).count() == 6


@pytest.mark.parametrize("state", ["approved", "blocked"])
def test_bulk_query_count_does_not_grow_with_the_number_of_servers(state, settings):
    settings.REGISTRY_DEFAULT_VERSION_POLICY = "reviewed"

    def decide(count, prefix):
        servers = [mirrored(f"io.github.{prefix}/s{i}", ["1.0.0", "1.1.0"]) for i in range(count)]
        queryset = Server.objects.filter(name__startswith=f"io.github.{prefix}/")
        count = query_count(lambda: services.servers_decide_bulk(servers=queryset, state=state, reason="r", **CLI))
        return count, servers

    few, _ = decide(5, "few")
    many, servers = decide(50, "many")
    assert few == many
    decided = AuditEvent.objects.filter(server_name__startswith="io.github.many/", action__startswith="server_")
    assert decided.values("server_name").distinct().count() == decided.count() == 50


# --- version policy --------------------------------------------------------------------------

def test_version_policy_change_is_audited_and_keeps_what_is_served():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    services.server_approve(server=server, reason="ok", **CLI)

    assert services.server_set_version_policy(server=server, policy="reviewed", reason="tighten", **CLI)
    assert not services.server_set_version_policy(server=server, policy="reviewed", reason="again", **CLI)

    event = AuditEvent.objects.get(action=AuditAction.VERSION_POLICY_CHANGED)
    assert (event.before, event.after, event.reason) == ({"version_policy": "all"}, {"version_policy": "reviewed"},
                                                         "tighten")
    assert served(server) == {"1.0.0", "1.1.0"}
    assert {version_state(v) for v in server.versions.all()} == {"approved"}


def test_version_policy_change_on_a_pending_server_approves_nothing():
    server = mirrored("io.github.acme/one")
    services.server_set_version_policy(server=server, policy="reviewed", reason="strict", **CLI)
    assert not VersionCuration.objects.filter(state="approved").exists()


def test_unknown_version_policy_is_refused():
    server = mirrored("io.github.acme/one")
    with pytest.raises(ValidationError, match="Unknown version policy"):
        services.server_set_version_policy(server=server, policy="some", reason="r", **CLI)


# --- meta --------------------------------------------------------------------------------------

def test_meta_update_is_served_under_the_namespace_beside_the_registry_facts():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    services.server_approve(server=server, reason="ok", actor_name="alice", source=AuditSource.ADMIN)
    version = server.versions.get(version="1.1.0")

    assert services.meta_update(server=server, meta={"owningTeam": "payments", "tier": 1}, reason="SEC-7", **CLI)
    assert services.meta_update(server=server, version=version, meta={"tier": 2}, reason="tier 2 build", **CLI)
    assert not services.meta_update(server=server, version=version, meta={"tier": 2}, reason="again", **CLI)

    older = Listing.objects.get(version__server=server, version_string="1.0.0").org_meta
    newer = Listing.objects.get(version=version).org_meta
    assert older == {"owningTeam": "payments", "tier": 1, "curationState": "approved", "approvedBy": "alice",
                     "approvedAt": older["approvedAt"]}
    assert newer["tier"] == 2 and newer["owningTeam"] == "payments"
    server_event, version_event = AuditEvent.objects.filter(action=AuditAction.META_UPDATED).order_by("id")
    assert (server_event.before, server_event.after, server_event.version, server_event.reason) == (
        {}, {"owningTeam": "payments", "tier": 1}, "", "SEC-7")
    assert (version_event.before, version_event.after, version_event.version, version_event.reason) == (
        {}, {"tier": 2}, "1.1.0", "tier 2 build")


@pytest.mark.parametrize("meta", [{"approvedBy": "mallory"}, {"curationState": "approved"},
                                  {"io.modelcontextprotocol.registry/official": {}}, ["not", "an", "object"]])
def test_meta_update_refuses_what_would_overwrite_registry_or_upstream_facts(meta):
    server = mirrored("io.github.acme/one")
    with pytest.raises(ValidationError):
        services.meta_update(server=server, meta=meta, reason="r", **CLI)
    assert not AuditEvent.objects.exists()


def test_registry_facts_win_over_stored_metadata_written_around_the_service():
    server = mirrored("io.github.acme/one")
    services.server_approve(server=server, reason="ok", actor_name="alice", source=AuditSource.ADMIN)
    ServerCuration.objects.filter(pk=server.pk).update(meta={"approvedBy": "mallory", "versionCurationState": "x"})
    services.listing_refresh(server_ids=[server.pk])
    org_meta = Listing.objects.get(version__server=server).org_meta
    assert org_meta["approvedBy"] == "alice" and "versionCurationState" not in org_meta


def test_meta_update_of_another_servers_version_is_refused():
    one, two = mirrored("io.github.acme/one"), mirrored("io.github.acme/two")
    with pytest.raises(ValidationError, match="does not belong"):
        services.meta_update(server=one, version=two.versions.get(), meta={"a": 1}, reason="r", **CLI)


# --- policy rules ------------------------------------------------------------------------------

def test_policy_save_and_delete_are_audited_with_before_and_after():
    alice = user("alice")
    policy = services.policy_save(policy=Policy(name="acme", name_glob="io.github.acme/*",
                                                effect=PolicyEffect.APPROVE), reason="SEC-1: trust acme",
                                  actor=alice, source=AuditSource.ADMIN)
    policy.priority = 10
    services.policy_save(policy=policy, reason="SEC-2: before the generic rules", actor=alice,
                         source=AuditSource.ADMIN)
    services.policy_save(policy=policy, reason="no change", actor=alice, source=AuditSource.ADMIN)  # no event
    services.policy_delete(policy=policy, reason="SEC-3: acme sold", actor=alice, source=AuditSource.ADMIN)

    created, updated, deleted = AuditEvent.objects.order_by("id")
    assert (created.action, created.before, created.after["name_glob"], created.reason) == (
        "policy_created", None, "io.github.acme/*", "SEC-1: trust acme")
    assert (updated.action, updated.before["priority"], updated.after["priority"], updated.reason) == (
        "policy_updated", 100, 10, "SEC-2: before the generic rules")
    assert (deleted.action, deleted.before["name"], deleted.after, deleted.reason) == (
        "policy_deleted", "acme", None, "SEC-3: acme sold")
    assert not Policy.objects.exists()


def test_policy_save_validates_the_rule():
    with pytest.raises(ValidationError):
        services.policy_save(policy=Policy(name="x", effect="explode"), reason="r", **CLI)
    assert not Policy.objects.exists() and not AuditEvent.objects.exists()


# --- concurrency -------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_concurrent_curators_never_lose_an_audit_event():
    """Both decide the same server at once: the row lock orders them and the chain of events stays whole."""
    server = mirrored("io.github.acme/race")
    services.server_reset(server=server, reason="create the row", **CLI)  # pending: no change, no event
    start = threading.Barrier(4)
    errors = []

    def decide(service, name):
        try:
            start.wait(timeout=10)
            service(server=server, reason=name, actor_name=name, source=AuditSource.ADMIN)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(service, f"{service.__name__}-{i}"))
               for i, service in enumerate([services.server_approve, services.server_block] * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    events = list(AuditEvent.objects.order_by("id"))
    assert events, "at least the first decision changes the state"
    previous = "pending"
    for event in events:
        assert event.before == {"state": previous} and event.after["state"] != previous
        previous = event.after["state"]
    assert server_state(server) == previous
    assert Listing.objects.get(version__server=server).is_served == (previous == "approved")


# --- decisions from a stale page -----------------------------------------------------------------

def test_a_decision_taken_from_a_state_that_changed_since_is_refused_and_changes_nothing():
    server = mirrored("io.github.acme/one")
    services.server_block(server=server, reason="Malware found, INC-42", actor=user("bob"), source=AuditSource.ADMIN)
    decided_at = ServerCuration.objects.get(pk=server.pk).decided_at

    with pytest.raises(services.DecisionChanged) as refused:
        services.server_approve(server=server, reason="Looks fine to me", actor=user("carol"),
                                source=AuditSource.ADMIN, expected_state=CurationState.PENDING)

    message = " ".join(refused.value.messages)
    assert "server io.github.acme/one" in message and "bob set it to blocked" in message
    assert f"at {timezone.localtime(decided_at):%Y-%m-%d %H:%M:%S} UTC" in message
    assert "“Malware found, INC-42”" in message and "as pending" in message
    assert refused.value.curation.state == CurationState.BLOCKED
    assert server_state(server) == CurationState.BLOCKED
    assert actions() == [("server_blocked", "bob", "io.github.acme/one", "")]
    # Deciding again from the state now shown goes through.
    assert services.server_approve(server=server, reason="INC-42 was a false positive", actor=user("dave"),
                                   source=AuditSource.ADMIN, expected_state=CurationState.BLOCKED)
    assert server_state(server) == CurationState.APPROVED


def test_a_version_decision_taken_from_a_stale_state_is_refused():
    server = mirrored("io.github.acme/one", ["1.0.0", "1.1.0"])
    version = server.versions.get(version="1.1.0")
    services.version_block(version=version, reason="CVE-2026-1", actor_name="bob", source=AuditSource.ADMIN)

    with pytest.raises(services.DecisionChanged, match="version 1.1.0 of io.github.acme/one"):
        services.version_approve(version=version, reason="ok", actor_name="carol", source=AuditSource.ADMIN,
                                 expected_state=CurationState.PENDING)

    assert version_state(version) == CurationState.BLOCKED
    assert services.version_reset(version=version, reason="fixed", actor_name="carol", source=AuditSource.ADMIN,
                                  expected_state=CurationState.BLOCKED)


def test_an_unchanged_expected_state_lets_the_decision_through():
    server = mirrored("io.github.acme/one")
    assert services.server_approve(server=server, reason="ok", expected_state=CurationState.PENDING, **CLI)
    assert not services.server_approve(server=server, reason="again", expected_state=CurationState.APPROVED, **CLI)
    assert server_state(server) == CurationState.APPROVED


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_decisions_from_the_same_page_only_the_first_goes_through():
    """Both curators saw `pending`; the row lock orders them, and the second finds the first's decision."""
    server = mirrored("io.github.acme/race")
    services.server_reset(server=server, reason="create the row", **CLI)
    outcomes, errors = {}, []

    def decide(service, name):
        try:
            outcomes[name] = service(server=server, reason=name, actor_name=name, source=AuditSource.ADMIN,
                                     expected_state=CurationState.PENDING)
        except services.DecisionChanged as refusal:
            outcomes[name] = refusal
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(services.server_approve, "carol")),
               threading.Thread(target=decide, args=(services.server_block, "bob"))]
    with transaction.atomic():
        # Hold the row so both decisions are under way, waiting for it, before either can look at the state.
        ServerCuration.objects.select_for_update().get(pk=server.pk)
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(2)
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(type(outcome).__name__ for outcome in outcomes.values()) == ["DecisionChanged", "bool"]
    winner = next(name for name, outcome in outcomes.items() if outcome is True)
    refusal = next(outcome for outcome in outcomes.values() if outcome is not True)
    assert f"{winner} set it to" in " ".join(refusal.messages)
    assert [(event.actor_name, event.before) for event in AuditEvent.objects.all()] == [
        (winner, {"state": "pending"})]


def _wait_for_lock_waiters(count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited for a lock")


def _incremental_pull(client, mark: datetime | None) -> tuple[set[tuple[str, str]], datetime | None]:
    """mcpreg's `incremental_pull`: what changed after the mark, and the new mark (the highest updatedAt seen)."""
    since = f"&updated_since={quote(mark.isoformat())}" if mark else ""
    entries = json.loads(client.get(f"/v0.1/servers?include_deleted=true&limit=100{since}").content)["servers"]
    officials = [(entry["server"]["name"], entry["_meta"][OFFICIAL_NAMESPACE]) for entry in entries]
    stamps = [datetime.fromisoformat(official["updatedAt"]) for _, official in officials]
    return {(name, official["status"]) for name, official in officials}, max(stamps, default=mark)


def _wait_until_finished_or_waiting_for_a_lock(thread: threading.Thread) -> None:
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_a_change_stamped_first_but_committed_last_still_reaches_an_incremental_pull(client):
    """A sync page refreshes the projection, then commits only after a curator's decision could have
    committed. A client pulling in between keeps the highest updatedAt it saw as its mark; its next
    pull must still bring the sync page's change."""
    synced = mirrored("io.github.acme/synced")
    services.server_approve(server=synced, reason="r", **CLI)
    decided = mirrored("io.github.acme/decided")
    _, mark = _incremental_pull(client, None)
    page_refreshed, page_may_commit = threading.Event(), threading.Event()
    errors = []

    def sync_page():
        try:
            with transaction.atomic():
                status_change(synced.versions.get(), "deleted")
                page_refreshed.set()
                assert page_may_commit.wait(timeout=30)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            page_refreshed.set()
            connection.close()

    def decide():
        try:
            services.server_approve(server=decided, reason="r", **CLI)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    page, decision = threading.Thread(target=sync_page), threading.Thread(target=decide)
    page.start()
    assert page_refreshed.wait(timeout=30)
    decision.start()
    _wait_until_finished_or_waiting_for_a_lock(decision)
    seen, mark = _incremental_pull(client, mark)
    page_may_commit.set()
    page.join(timeout=30)
    decision.join(timeout=30)
    seen_later, _ = _incremental_pull(client, mark)

    assert errors == []
    assert {("io.github.acme/synced", "deleted"), ("io.github.acme/decided", "active")} <= seen | seen_later
