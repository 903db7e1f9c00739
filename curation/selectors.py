from django.db.models import Q, QuerySet

from curation.choices import CurationState, VersionPolicy
from mirror.choices import UpstreamStatus
from mirror.models import ServerVersion


def served_rule() -> Q:
    """THE served rule, on ServerVersion: the one place that decides what employees' clients see.

    A version is served iff its upstream status is active, its server is approved, the version
    is not blocked, and the server's version policy admits it (all versions, or this version
    approved on its own).
    """
    return (
        Q(status=UpstreamStatus.ACTIVE)
        & Q(server__curation__state=CurationState.APPROVED)
        & ~Q(curation__state=CurationState.BLOCKED)
        & (Q(server__curation__version_policy=VersionPolicy.ALL) | Q(curation__state=CurationState.APPROVED))
    )


def served_versions() -> QuerySet[ServerVersion]:
    return ServerVersion.objects.filter(served_rule())
