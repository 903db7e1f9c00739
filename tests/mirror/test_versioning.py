from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from mirror.versioning import pick_latest, semver_key

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


@dataclass
class V:
    version: str
    published_at: datetime = T0
    status: str = "active"


@pytest.mark.parametrize(
    "lower, higher",
    [
        ("1.9.0", "1.10.0"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-1", "1.0.0"),  # a semver pre-release, not a PEP 440 post-release
        ("0.9.9", "v1.0.0"),
    ],
)
def test_semver_precedence(lower, higher):
    assert semver_key(lower) < semver_key(higher)


@pytest.mark.parametrize("not_semver", [
    "1.2", "1.2.3.4", "latest", "01.2.3", "1.2.3-", "",
    # Go's semver takes ASCII digits only and nothing after the version, not even a newline.
    "1.0.0\n", "1.0.1\u0660", "1.0.0-1\u0663", "\u0661.0.0",
])
def test_non_semver_versions(not_semver):
    assert semver_key(not_semver) is None


def test_build_metadata_is_ignored():
    assert semver_key("1.0.0+20130313144700") == semver_key("1.0.0")


def test_semver_beats_non_semver_even_if_older():
    old_semver = V("0.0.1", T0)
    newer_non_semver = V("2024.10.1.1", T0 + timedelta(days=300))
    assert pick_latest([newer_non_semver, old_semver]) is old_semver


def test_a_version_with_a_trailing_newline_does_not_outrank_semver():
    release = V("2.0.0")
    assert pick_latest([release, V("9.0.0\n", T0 + timedelta(days=1))]) is release


def test_non_semver_ordered_by_published_at():
    first, second = V("alpha", T0), V("beta", T0 + timedelta(days=1))
    assert pick_latest([second, first]) is second


@pytest.mark.parametrize("tied", [("1.0.0+build.1", "1.0.0+build.2"), ("v1.0.0", "1.0.0"), ("alpha", "beta")])
def test_a_tie_is_settled_by_the_version_string_whatever_the_order(tied):
    versions = [V(version) for version in tied]
    assert pick_latest(versions).version == pick_latest(versions[::-1]).version == max(tied)


def test_deleted_versions_skipped_unless_all_deleted():
    deleted_high = V("2.0.0", status="deleted")
    live_low = V("1.0.0")
    assert pick_latest([deleted_high, live_low]) is live_low
    assert pick_latest([deleted_high, V("1.0.0", status="deleted")]) is deleted_high


def test_no_versions():
    assert pick_latest([]) is None
