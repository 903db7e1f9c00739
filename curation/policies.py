"""Matching policy rules against a discovered `server.json` (untrusted upstream data).

Every non-empty matcher of a rule must match: the name glob, the remote URL host (a glob, so
`*.acme.com` works), and the package matchers (`registryType` and identifier glob), which must
hold for the same package. A rule with no matcher matches everything. Enabled rules are tried by
priority (lowest first); at equal priority block comes before leave-pending before approve, so the
more restrictive rule wins; the first match decides.
"""

from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from curation.choices import POLICY_EFFECT_PRECEDENCE
from curation.models import Policy


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


def _remote_host(remote: dict) -> str:
    try:
        return (urlsplit(_string(remote.get("url"))).hostname or "").lower()
    except ValueError:
        return ""


def policy_matches(rule: Policy, document: dict) -> bool:
    if not isinstance(document, dict):
        return False
    if rule.name_glob and not fnmatchcase(_string(document.get("name")), rule.name_glob):
        return False
    if rule.registry_type or rule.identifier_glob:
        packages = _objects(document, "packages")
        if not any(
            (not rule.registry_type or _string(package.get("registryType")).lower() == rule.registry_type.lower())
            and (not rule.identifier_glob or fnmatchcase(_string(package.get("identifier")), rule.identifier_glob))
            for package in packages
        ):
            return False
    if rule.remote_host:
        host_glob = rule.remote_host.lower()
        if not any(fnmatchcase(_remote_host(remote), host_glob) for remote in _objects(document, "remotes")):
            return False
    return True


def policy_first_match(rules: list[Policy], document: dict) -> Policy | None:
    """The rule that decides for this document, from `policies_enabled()` order; None if none matches."""
    return next((rule for rule in rules if policy_matches(rule, document)), None)
