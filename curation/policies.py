"""Matching policy rules against a discovered `server.json` (untrusted upstream data).

Every non-empty matcher of a rule must match: the name glob, the remote URL host (a glob, so
`*.acme.com` works), and the package matchers (`registryType` and identifier glob), which must
hold for the same package. A rule with no matcher matches everything. Enabled rules are tried by
priority (lowest first); at equal priority block comes before leave-pending before approve, so the
more restrictive rule wins; the first match decides.

An approve rule vouches for everything the server ships: with package matchers, every package must
match them, and with a host matcher, every remote must. Block and leave-pending rules hold a server
back when any one package or remote matches. Package matchers never match a server without
packages, nor a host matcher one without remotes.

A remote URL with whitespace or control characters, or whose authority holds anything but letters,
digits, `.`, `-`, `:` and IPv6 brackets (`@`, a backslash, `%`, non-ASCII), has no host that every
URL parser agrees on: `https://evil.example\\@mcp.acme.com` is `mcp.acme.com` to Python but
`evil.example` to the WHATWG parsers of JavaScript clients. Such a remote never matches an approve
rule's host matcher and always matches a block or leave-pending rule's.
"""

import re
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from curation.choices import POLICY_EFFECT_PRECEDENCE, PolicyEffect
from curation.models import Policy

_PLAIN_AUTHORITY = re.compile(r"[A-Za-z0-9.:\[\]-]+")


def policies_enabled() -> list[Policy]:
    """Enabled rules in evaluation order."""
    rules = list(Policy.objects.filter(enabled=True))
    rules.sort(key=lambda rule: (rule.priority, POLICY_EFFECT_PRECEDENCE.get(rule.effect, 0), rule.name))
    return rules


def _objects(document: dict, key: str) -> list[dict]:
    value = document.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _string(value) -> str:
    return value if isinstance(value, str) else ""


def _remote_host(remote: dict) -> str | None:
    """The URL's host, lowercased; None when URL parsers could disagree on it."""
    url = _string(remote.get("url"))
    if any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    return host if host and _PLAIN_AUTHORITY.fullmatch(parts.netloc) else None


def _package_matches(rule: Policy, package: dict) -> bool:
    registry_type = _string(package.get("registryType")).lower()
    return (not rule.registry_type or registry_type == rule.registry_type.lower()) and (
        not rule.identifier_glob or fnmatchcase(_string(package.get("identifier")), rule.identifier_glob))


def _remote_matches(rule: Policy, remote: dict) -> bool:
    host = _remote_host(remote)
    if host is None:
        return rule.effect != PolicyEffect.APPROVE
    return fnmatchcase(host, rule.remote_host.lower())


def policy_matches(rule: Policy, document: dict) -> bool:
    if not isinstance(document, dict):
        return False
    if rule.name_glob and not fnmatchcase(_string(document.get("name")), rule.name_glob):
        return False
    each_or_any = all if rule.effect == PolicyEffect.APPROVE else any
    if rule.registry_type or rule.identifier_glob:
        packages = _objects(document, "packages")
        if not packages or not each_or_any(_package_matches(rule, package) for package in packages):
            return False
    if rule.remote_host:
        remotes = _objects(document, "remotes")
        if not remotes or not each_or_any(_remote_matches(rule, remote) for remote in remotes):
            return False
    return True


def policy_first_match(rules: list[Policy], document: dict) -> Policy | None:
    """The rule that decides for this document, from `policies_enabled()` order; None if none matches."""
    return next((rule for rule in rules if policy_matches(rule, document)), None)
