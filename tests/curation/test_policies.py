import pytest

from curation.choices import AuditAction, PolicyEffect
from curation.forms import PolicyForm
from curation.models import AuditEvent, Listing, Policy, ServerCuration
from curation.policies import policies_enabled, policy_first_match, policy_matches
from tests.curation.curation_support import actions, mirrored, new_versions_page, server_state, sync_page, \
    version_state
from tests.factories import ServerVersionFactory, server_document

pytestmark = pytest.mark.django_db


def document(name="io.github.acme/tool", packages=None, remotes=None):
    doc = server_document(name, "1.0.0")
    if packages is not None:
        doc["packages"] = packages
    if remotes is not None:
        doc["remotes"] = remotes
    return doc


NPM_ACME = {"registryType": "npm", "identifier": "@acme/tool", "version": "1.0.0", "transport": {"type": "stdio"}}
PYPI_OTHER = {"registryType": "pypi", "identifier": "other-tool", "version": "1.0.0", "transport": {"type": "stdio"}}
REMOTE = {"type": "streamable-http", "url": "https://MCP.acme.com:8443/mcp"}
EVIL_REMOTE = {"type": "streamable-http", "url": "https://evil.example/mcp"}
NPM_EVIL = {"registryType": "npm", "identifier": "evil-pkg", "version": "1.0.0", "transport": {"type": "stdio"}}


@pytest.mark.parametrize("effect", [PolicyEffect.BLOCK, PolicyEffect.PENDING])
@pytest.mark.parametrize("rule, matches", [
    (dict(), True),
    (dict(name_glob="io.github.acme/*"), True),
    (dict(name_glob="io.github.ACME/*"), False),  # case-sensitive, as fnmatchcase
    (dict(name_glob="io.github.other/*"), False),
    (dict(registry_type="npm"), True),
    (dict(registry_type="oci"), False),
    (dict(identifier_glob="@acme/*"), True),
    (dict(registry_type="npm", identifier_glob="other-*"), False),  # both must hold for the same package
    (dict(registry_type="pypi", identifier_glob="other-*"), True),
    (dict(remote_host="mcp.acme.com"), True),  # host only, case-insensitive, port ignored
    (dict(remote_host="*.acme.com"), True),
    (dict(remote_host="acme.com"), False),
    (dict(name_glob="io.github.acme/*", registry_type="npm", remote_host="evil.com"), False),  # all must match
])
def test_rule_matching(rule, matches, effect):
    subject = document(packages=[NPM_ACME, PYPI_OTHER], remotes=[REMOTE])
    assert policy_matches(Policy(name="r", effect=effect, **rule), subject) is matches


@pytest.mark.parametrize("rule, packages, remotes, approves, blocks", [
    (dict(remote_host="*.acme.com"), [], [REMOTE], True, True),
    (dict(remote_host="*.acme.com"), [], [REMOTE, EVIL_REMOTE], False, True),
    (dict(remote_host="*.acme.com"), [NPM_ACME], [], False, False),
    (dict(registry_type="npm", identifier_glob="@acme/*"), [NPM_ACME], [], True, True),
    (dict(registry_type="npm", identifier_glob="@acme/*"), [NPM_ACME, NPM_EVIL], [], False, True),
    (dict(registry_type="npm"), [NPM_ACME, PYPI_OTHER], [], False, True),
    (dict(identifier_glob="*"), [], [REMOTE], False, False),
    (dict(name_glob="io.github.acme/*"), [NPM_EVIL], [EVIL_REMOTE], True, True),  # no package or host matcher
])
def test_approve_needs_every_package_and_remote_to_match_block_needs_one(rule, packages, remotes, approves, blocks):
    subject = document(packages=packages, remotes=remotes)
    assert policy_matches(Policy(name="r", effect=PolicyEffect.APPROVE, **rule), subject) is approves
    assert policy_matches(Policy(name="r", effect=PolicyEffect.BLOCK, **rule), subject) is blocks


@pytest.mark.parametrize("url", [
    "https://evil.example\\@mcp.acme.com/mcp",
    "https://evil.example@mcp.acme.com/mcp",
    "https://evil.example%2F.mcp.acme.com/mcp",
    "https://evil.example\x00.mcp.acme.com/mcp",
    "https://evil.example .mcp.acme.com/mcp",
    "https://evil.example\t.mcp.acme.com/mcp",
    " https://mcp.acme.com/mcp",
])
def test_a_remote_url_parsers_could_read_differently_never_matches_an_approve_rule(url):
    subject = document(packages=[], remotes=[{"type": "streamable-http", "url": url}])
    assert not policy_matches(Policy(name="r", effect=PolicyEffect.APPROVE, remote_host="*.acme.com"), subject)
    assert policy_matches(Policy(name="r", effect=PolicyEffect.BLOCK, remote_host="evil.example"), subject)


@pytest.mark.parametrize("garbage", [
    {"name": 7, "packages": "npm", "remotes": [None, {"url": 5}, {"url": "http://[bad"}]},
    {"packages": [None, 3, {"registryType": None}]},
    "not a document",
])
def test_untrusted_documents_never_crash_matching(garbage):
    for rule in [dict(name_glob="*"), dict(registry_type="npm"), dict(identifier_glob="*"), dict(remote_host="*")]:
        policy_matches(Policy(name="r", effect="approve", **rule), garbage)


def test_order_priority_then_block_before_pending_before_approve_and_disabled_rules_ignored():
    Policy.objects.create(name="a-approve", priority=10, effect=PolicyEffect.APPROVE)
    Policy.objects.create(name="z-block", priority=10, effect=PolicyEffect.BLOCK)
    Policy.objects.create(name="m-pending", priority=10, effect=PolicyEffect.PENDING)
    Policy.objects.create(name="early-but-off", priority=1, effect=PolicyEffect.APPROVE, enabled=False)
    Policy.objects.create(name="late", priority=50, effect=PolicyEffect.APPROVE)

    rules = policies_enabled()

    assert [rule.name for rule in rules] == ["z-block", "m-pending", "a-approve", "late"]
    assert policy_first_match(rules, document()).name == "z-block"
    assert policy_first_match(rules[1:], document()).name == "m-pending"
    assert policy_first_match([], document()) is None


def test_a_lower_priority_approve_beats_a_later_block():
    Policy.objects.create(name="acme", priority=5, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    Policy.objects.create(name="all", priority=100, effect=PolicyEffect.BLOCK)
    assert policy_first_match(policies_enabled(), document()).name == "acme"
    assert policy_first_match(policies_enabled(), document("io.github.other/x")).name == "all"


# --- during a sync -----------------------------------------------------------------------------

def test_new_servers_get_the_first_matching_rule_recorded_with_the_rule_as_actor():
    Policy.objects.create(name="acme", priority=10, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    Policy.objects.create(name="no-oci", priority=20, registry_type="oci", effect=PolicyEffect.BLOCK)
    Policy.objects.create(name="hold", priority=30, name_glob="io.github.hold/*", effect=PolicyEffect.PENDING)
    acme = mirrored("io.github.acme/tool", ["1.0.0", "1.1.0"])
    oci = mirrored("io.github.other/container", packages=[{"registryType": "oci", "identifier": "ghcr.io/o/c",
                                                           "transport": {"type": "stdio"}}])
    held = mirrored("io.github.hold/thing")
    plain = mirrored("io.github.plain/thing")

    sync_page(acme, oci, held, plain)

    assert [server_state(s) for s in (acme, oci, held, plain)] == ["approved", "blocked", "pending", "pending"]
    curation = ServerCuration.objects.get(pk=acme.pk)
    assert (curation.decided_by_name, curation.reason) == ("policy:acme", "Matched policy rule “acme”")
    assert actions(source="sync", actor_name__startswith="policy:") == [
        ("server_approved", "policy:acme", "io.github.acme/tool", ""),
        ("server_blocked", "policy:no-oci", "io.github.other/container", ""),
        ("policy_matched", "policy:hold", "io.github.hold/thing", ""),
    ]
    assert set(Listing.objects.filter(is_served=True).values_list("name", flat=True)) == {"io.github.acme/tool"}
    assert Listing.objects.get(is_latest=True).version_string == "1.1.0"
    assert Listing.objects.get(name="io.github.acme/tool", is_latest=True).org_meta["approvedBy"] == "policy:acme"


def test_approve_rule_under_reviewed_default_approves_the_discovered_versions(settings):
    settings.REGISTRY_DEFAULT_VERSION_POLICY = "reviewed"
    Policy.objects.create(name="acme", name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    acme = mirrored("io.github.acme/tool", ["1.0.0", "1.1.0"])

    sync_page(acme)

    assert ServerCuration.objects.get(pk=acme.pk).version_policy == "reviewed"
    assert {version_state(v) for v in acme.versions.all()} == {"approved"}
    assert actions(action=AuditAction.VERSION_APPROVED, actor_name="policy:acme") == [
        ("version_approved", "policy:acme", "io.github.acme/tool", "1.0.0"),
        ("version_approved", "policy:acme", "io.github.acme/tool", "1.1.0"),
    ]
    assert Listing.objects.filter(is_served=True).count() == 2


def test_an_approve_rule_leaves_a_server_with_one_foreign_remote_pending():
    Policy.objects.create(name="acme-hosts", remote_host="*.acme.com", effect=PolicyEffect.APPROVE)
    mixed = mirrored("io.github.other/mixed", remotes=[REMOTE, EVIL_REMOTE])
    acme = mirrored("io.github.other/acme-only", remotes=[REMOTE])

    sync_page(mixed, acme)

    assert [server_state(s) for s in (mixed, acme)] == ["pending", "approved"]


def test_new_version_of_an_existing_server_gets_the_rule_at_version_level(settings):
    Policy.objects.create(name="bad-package", priority=1, identifier_glob="@evil/*", effect=PolicyEffect.BLOCK)
    Policy.objects.create(name="acme", priority=10, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    server = mirrored("io.github.acme/tool")
    sync_page(server)
    assert server_state(server) == "approved"

    evil = ServerVersionFactory(server=server, version="1.1.0", document=server_document(
        server.name, "1.1.0", packages=[{"registryType": "npm", "identifier": "@evil/x", "version": "1.1.0",
                                         "transport": {"type": "stdio"}}]))
    fine = ServerVersionFactory(server=server, version="1.2.0")
    new_versions_page(evil, fine)

    assert version_state(evil) == "blocked"
    # Under `all` a version's own approval would change nothing, so it is not recorded.
    assert version_state(fine) == "pending"
    assert actions(action=AuditAction.VERSION_BLOCKED) == [
        ("version_blocked", "policy:bad-package", "io.github.acme/tool", "1.1.0")]
    assert set(Listing.objects.filter(is_served=True).values_list("version_string", flat=True)) == {"1.0.0", "1.2.0"}

    # Under `reviewed`, a matching approve rule approves the new version itself.
    ServerCuration.objects.filter(pk=server.pk).update(version_policy="reviewed")
    reviewed = ServerVersionFactory(server=server, version="1.3.0")
    new_versions_page(reviewed)
    assert version_state(reviewed) == "approved"
    assert Listing.objects.get(version=reviewed).is_served


@pytest.mark.parametrize("version_policy", ["all", "reviewed"])
def test_a_block_rule_holds_back_a_release_discovered_in_the_same_page_as_its_server(settings, version_policy):
    """A first sync discovers each server with all its versions at once: the release rule must still apply."""
    settings.REGISTRY_DEFAULT_VERSION_POLICY = version_policy
    Policy.objects.create(name="bad-package", priority=1, identifier_glob="@evil/*", effect=PolicyEffect.BLOCK)
    Policy.objects.create(name="acme", priority=10, name_glob="io.github.acme/*", effect=PolicyEffect.APPROVE)
    server = mirrored("io.github.acme/tool")
    evil = ServerVersionFactory(server=server, version="1.1.0", document=server_document(
        server.name, "1.1.0", packages=[{"registryType": "npm", "identifier": "@evil/x", "version": "1.1.0",
                                         "transport": {"type": "stdio"}}]))

    sync_page(server)

    assert server_state(server) == "approved"
    assert version_state(evil) == "blocked"
    assert actions(action=AuditAction.VERSION_BLOCKED) == [
        ("version_blocked", "policy:bad-package", "io.github.acme/tool", "1.1.0")]
    assert set(Listing.objects.filter(is_served=True).values_list("version_string", flat=True)) == {"1.0.0"}


def test_no_policy_leaves_everything_pending_and_audits_the_discoveries():
    server = mirrored("io.github.acme/tool", ["1.0.0", "1.1.0"])
    sync_page(server)
    assert server_state(server) == "pending"
    assert actions() == [
        ("server_discovered", "sync", "io.github.acme/tool", "1.0.0"),
        ("version_discovered", "sync", "io.github.acme/tool", "1.0.0"),
        ("version_discovered", "sync", "io.github.acme/tool", "1.1.0"),
    ]
    assert not AuditEvent.objects.exclude(source="sync").exists()


# --- the policy form: matchers that could never match are refused ------------------------------

def policy_form(**matchers):
    data = {"name": "rule", "priority": 10, "enabled": "on", "effect": PolicyEffect.BLOCK, "reason": "SEC-1",
            **matchers}
    return PolicyForm(data=data)


@pytest.mark.parametrize(("pasted", "suggestion"), [
    ("https://mcp.owner005.example.com", "mcp.owner005.example.com"),
    ("MCP.Owner005.example.com/", "mcp.owner005.example.com"),
    ("https://mcp.acme.com:8443/mcp", "mcp.acme.com"),
    ("*.acme.com:443", "*.acme.com"),
    ("https://user@mcp.acme.com", "mcp.acme.com"),
])
def test_a_pasted_url_as_remote_host_is_refused_with_the_bare_host_suggested(pasted, suggestion):
    form = policy_form(remote_host=pasted)
    assert not form.is_valid()
    assert form.errors["remote_host"] == [f"Enter only the host name, without scheme, port or path: “{suggestion}”."]


@pytest.mark.parametrize("host", ["https://bad host/with/path", "mcp acme.com", "[::1]", "mcp_acme.com",
                                  "mcp.acme.com\t."])
def test_a_remote_host_that_is_no_host_glob_is_refused(host):
    form = policy_form(remote_host=host)
    assert not form.is_valid()
    assert "host name or host glob" in form.errors["remote_host"][0]


def test_a_remote_host_is_stored_lowercase_so_it_matches():
    form = policy_form(remote_host="  *.ACME.com ")
    assert form.is_valid(), form.errors
    rule = form.save()
    assert rule.remote_host == "*.acme.com"
    assert policy_matches(rule, document(remotes=[REMOTE]))


@pytest.mark.parametrize("glob", ["io.github.acme/ *", "io.github.acme/tool name", "[", "io.github.acme/[ab",
                                  "io.github.acme/ümlaut*", "io.github.acme", "acme-tool"])
def test_a_name_glob_that_can_never_match_a_server_name_is_refused(glob):
    form = policy_form(name_glob=glob)
    assert not form.is_valid()
    assert form.errors["name_glob"]


@pytest.mark.parametrize("glob", ["io.github.acme/*", "io.github.acme/tool", "*acme*", "io.github.acme/tool-[0-9]",
                                  "io.github.*/weather?", "io.github.acme/[!x]*"])
def test_name_globs_that_can_match_are_accepted(glob):
    assert policy_form(name_glob=glob).is_valid()


@pytest.mark.parametrize("glob", ["@acme/ *", "@acme/tool\u00a0x", "acme\x07"])
def test_an_identifier_glob_with_whitespace_or_control_characters_is_refused(glob):
    form = policy_form(identifier_glob=glob)
    assert not form.is_valid()
    assert "never contain spaces" in form.errors["identifier_glob"][0]


def test_identifier_globs_of_every_registry_type_are_accepted():
    for glob in ("@acme/*", "acme-mcp", "ghcr.io/acme/*:1.*", "Acme.Mcp.*", "https://github.com/acme/*.mcpb"):
        assert policy_form(identifier_glob=glob).is_valid(), glob
