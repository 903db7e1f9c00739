"""Env readers at their edges: empty booleans, durations too large to use, and the org `_meta` namespace."""

from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry_project.env import env_bool, env_duration, env_meta_namespace
from tests.project.test_env import run_with_settings

DEFAULT_NAMESPACE = "com.example.registry/curation"


# --- booleans -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["", "  "])
@pytest.mark.parametrize("default", [True, False])
def test_an_empty_boolean_means_its_default(monkeypatch, raw, default):
    monkeypatch.setenv("DJANGO_SECURE_COOKIES", raw)
    assert env_bool("DJANGO_SECURE_COOKIES", default) is default


@pytest.mark.parametrize("raw, expected", [("false", False), ("0", False), ("true", True), (" On ", True)])
def test_a_given_boolean_still_wins_over_the_default(monkeypatch, raw, expected):
    monkeypatch.setenv("DJANGO_SECURE_COOKIES", raw)
    assert env_bool("DJANGO_SECURE_COOKIES", not expected) is expected


def test_secure_cookies_set_to_empty_stay_on_outside_debug():
    result = run_with_settings(["-c", "from django.conf import settings as s;"
                                      "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"],
                               DJANGO_SECURE_COOKIES="", DJANGO_DEBUG=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"


# --- durations ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, raw", [
    ("MIRROR_SYNC_INTERVAL", "99999999999d"),
    ("ADMIN_LOGIN_LOCKOUT", "99999999999999s"),
    ("ADMIN_LOGIN_LOCKOUT", "36501d"),
    ("ADMIN_LOGIN_LOCKOUT", "876601h"),
    ("MIRROR_SYNC_INTERVAL", "9" * 5000),  # more digits than int() reads
])
def test_a_duration_over_100_years_is_refused_naming_the_variable_and_value(monkeypatch, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ImproperlyConfigured) as caught:
        env_duration(name, timedelta(hours=1))
    message = str(caught.value)
    assert message.startswith(f"{name} must be at most 36500d (100 years), got ")
    assert raw[:100] in message


@pytest.mark.parametrize("raw", ["36500d", "876000h", "0036500d"])
def test_a_duration_of_100_years_is_the_longest_and_still_fits_after_now(monkeypatch, raw):
    monkeypatch.setenv("ADMIN_LOGIN_LOCKOUT", raw)
    lockout = env_duration("ADMIN_LOGIN_LOCKOUT", timedelta(minutes=15))
    assert lockout == timedelta(days=36500)
    assert datetime.now(timezone.utc) + lockout < datetime(9999, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("raw", ["0", "000", "0d"])
def test_a_zero_duration_is_still_refused(monkeypatch, raw):
    monkeypatch.setenv("MIRROR_SYNC_INTERVAL", raw)
    with pytest.raises(ImproperlyConfigured, match="MIRROR_SYNC_INTERVAL must be a positive duration"):
        env_duration("MIRROR_SYNC_INTERVAL", timedelta(hours=1))


def test_the_settings_refuse_to_start_on_an_overflowing_lockout():
    result = run_with_settings(["-c", "import django; django.setup()"], ADMIN_LOGIN_LOCKOUT="99999999999999s")
    assert result.returncode != 0
    assert "ADMIN_LOGIN_LOCKOUT must be at most 36500d (100 years), got '99999999999999s'" in result.stderr
    assert "OverflowError" not in result.stderr


# --- the org _meta namespace --------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["com.example.registry/curation", "com.acme/mcp", "io.github.acme-corp/registry_v2",
                                 "COM.Example.Registry/Curation.2"])
def test_a_reverse_dns_namespace_is_accepted(monkeypatch, raw):
    monkeypatch.setenv("REGISTRY_META_NAMESPACE", raw)
    assert env_meta_namespace("REGISTRY_META_NAMESPACE", DEFAULT_NAMESPACE) == raw


@pytest.mark.parametrize("raw", [None, ""])
def test_an_unset_or_empty_namespace_is_the_default(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("REGISTRY_META_NAMESPACE", raising=False)
    else:
        monkeypatch.setenv("REGISTRY_META_NAMESPACE", raw)
    assert env_meta_namespace("REGISTRY_META_NAMESPACE", DEFAULT_NAMESPACE) == DEFAULT_NAMESPACE


@pytest.mark.parametrize("raw", [
    "not a namespace",
    "   ",
    "com.example.registry",
    "com.example.registry/",
    "/curation",
    "example/curation",  # one label: not reverse-DNS
    "com.example.registry/cur ation",
    "com.example .registry/curation",
    "com.example.registry/a/b",
    "com..example/curation",
    "-com.example/curation",
    "com.example/cura\ttion",
    "com.example/\u00e9",
])
def test_a_malformed_namespace_is_refused_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("REGISTRY_META_NAMESPACE", raw)
    with pytest.raises(ImproperlyConfigured, match="^REGISTRY_META_NAMESPACE must be a reverse-DNS namespace"):
        env_meta_namespace("REGISTRY_META_NAMESPACE", DEFAULT_NAMESPACE)


@pytest.mark.parametrize("raw", ["io.modelcontextprotocol.registry/official",
                                 "io.modelcontextprotocol.registry/curation",
                                 "IO.ModelContextProtocol.Registry/official"])
def test_the_upstream_namespace_is_refused(monkeypatch, raw):
    monkeypatch.setenv("REGISTRY_META_NAMESPACE", raw)
    with pytest.raises(ImproperlyConfigured, match="^REGISTRY_META_NAMESPACE must be your own namespace"):
        env_meta_namespace("REGISTRY_META_NAMESPACE", DEFAULT_NAMESPACE)


def test_the_settings_refuse_to_start_on_the_upstream_namespace():
    result = run_with_settings(["-c", "import django; django.setup()"],
                               REGISTRY_META_NAMESPACE="io.modelcontextprotocol.registry/official")
    assert result.returncode != 0
    assert "REGISTRY_META_NAMESPACE must be your own namespace" in result.stderr
