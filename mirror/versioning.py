"""Upstream's `isLatest` rule (internal/service/versioning.go), in Python.

Semver 2.0.0 precedence, not PEP 440: `packaging.version` reads `1.0.0-1` as a
post-release and rejects `1.0.0-alpha.beta`. A version is semver when its core has
exactly three numbers (a leading `v` is allowed); semver beats non-semver; two
non-semver versions are ordered by `publishedAt`; deleted versions are skipped
unless every version is deleted.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Protocol, TypeVar

# ASCII digits only and no trailing newline, as golang.org/x/mod/semver accepts.
_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?",
    re.ASCII,
)


class VersionLike(Protocol):
    version: str
    published_at: datetime
    status: str


V = TypeVar("V", bound=VersionLike)


@dataclass(frozen=True, order=True)
class _Identifier:
    # Numeric identifiers sort before alphanumeric ones, numerically among themselves.
    is_alphanumeric: bool
    number: int
    text: str


def semver_key(version: str) -> tuple | None:
    """A sort key with semver precedence, or None when `version` is not semver."""
    match = _SEMVER.fullmatch(version)
    if not match:
        return None
    major, minor, patch, prerelease = match.groups()
    if prerelease is None:
        # A release outranks every pre-release of the same core.
        prerelease_key = (1,)
    else:
        identifiers = tuple(
            _Identifier(False, int(part), "") if part.isdigit() else _Identifier(True, 0, part)
            for part in prerelease.split(".")
        )
        prerelease_key = (0, identifiers)
    return (int(major), int(minor), int(patch), prerelease_key)


def _rank(candidate: VersionLike) -> tuple:
    # The version string last: equal precedence and publishedAt must not leave the pick to row order,
    # or the flag could move between syncs with nothing changed upstream.
    key = semver_key(candidate.version)
    if key is None:
        return (0, (), candidate.published_at, candidate.version)
    return (1, key, candidate.published_at, candidate.version)


def pick_latest(versions: Iterable[V], *, deleted_status: str = "deleted") -> V | None:
    """The version upstream would flag `isLatest` among `versions`."""
    candidates = list(versions)
    live = [v for v in candidates if v.status != deleted_status]
    pool = live or candidates
    return max(pool, key=_rank, default=None)
