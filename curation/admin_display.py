"""Escaped building blocks for the curation admin: state badges and safe links.

Upstream text is untrusted: everything goes through `format_html`, never `mark_safe`.
"""

from django.conf import settings
from django.utils.html import format_html

from curation.choices import CurationState, VersionPolicy
from mirror.choices import UpstreamStatus
from mirror.models import Server, ServerVersion
from registry_project.env import is_http_url

BADGE_LABELS = {**dict(CurationState.choices), **dict(UpstreamStatus.choices)}


def badge(value: str):
    """A coloured pill for a curation state or an upstream status (escaped like everything else; the colours are
    in registry.css)."""
    if not value:
        return "—"
    return format_html('<span class="registry-badge registry-badge-{}">{}</span>', value, BADGE_LABELS.get(value, value))


def http_link(url, text=None):
    """A link only for http(s) URLs; anything else (javascript:, data:, garbage) is shown as inert text."""
    if not isinstance(url, str) or not url:
        return "—"
    if not is_http_url(url):
        return url
    return format_html('<a href="{}" target="_blank" rel="noopener noreferrer nofollow">{}</a>', url, text or url)


def curation_of(obj):
    """The decision row of a server or version, or None while nothing was decided yet."""
    try:
        return obj.curation
    except (Server.curation.RelatedObjectDoesNotExist, ServerVersion.curation.RelatedObjectDoesNotExist):
        return None


def state_of(obj) -> str:
    curation = curation_of(obj)
    return curation.state if curation else CurationState.PENDING


def version_policy_of(server) -> VersionPolicy:
    """The server's version policy; one curation has not touched yet gets the default when it does."""
    curation = curation_of(server)
    return VersionPolicy(curation.version_policy if curation else settings.REGISTRY_DEFAULT_VERSION_POLICY)


def is_served(version) -> bool:
    """Whether clients get this version: its listing says so (none yet: not served)."""
    try:
        return version.listing.is_served
    except ServerVersion.listing.RelatedObjectDoesNotExist:
        return False
