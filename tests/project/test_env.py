import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry_project.env import (
    env_bool, env_choice, env_database, env_duration, env_hosts, env_http_url, env_int, env_log_level, env_origins,
    env_redis_url, env_registry_url, env_str,
)

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def run_with_settings(arguments, **variables):
    """Run a fresh Python on the project settings; each keyword sets an environment variable, or unsets it if None."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "registry_project.settings"}
    for name, value in variables.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, env=environment)


@pytest.mark.parametrize("raw, expected", [("3600", 3600), ("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800)])
def test_duration_accepts_seconds_and_units(monkeypatch, raw, expected):
    monkeypatch.setenv("MIRROR_SYNC_INTERVAL", raw)
    assert env_duration("MIRROR_SYNC_INTERVAL", timedelta(hours=1)) == timedelta(seconds=expected)


@pytest.mark.parametrize(
    "reader, name, raw",
    [
        (lambda n: env_duration(n, timedelta(hours=1)), "MIRROR_SYNC_INTERVAL", "hourly"),
        (lambda n: env_duration(n, timedelta(hours=1)), "MIRROR_SYNC_INTERVAL", "0"),
        (lambda n: env_bool(n, False), "DJANGO_DEBUG", "maybe"),
        (lambda n: env_int(n, 1, minimum=1), "MIRROR_PAGE_SIZE", "ten"),
        (lambda n: env_int(n, 1, minimum=1), "MIRROR_PAGE_SIZE", "0"),
        (lambda n: env_int(n, 1, minimum=1, maximum=100), "MIRROR_PAGE_SIZE", "101"),
        (lambda n: env_http_url(n, "https://x"), "MIRROR_UPSTREAM_URL", "ftp://upstream"),
        (lambda n: env_http_url(n, "https://x"), "MIRROR_UPSTREAM_URL", "http://exa mple.com"),
        (lambda n: env_http_url(n, "https://x"), "MIRROR_UPSTREAM_URL", "https://registry.example:https"),
        (lambda n: env_registry_url(n, "https://x"), "MIRROR_UPSTREAM_URL", "https://registry.example/v0.1"),
        (lambda n: env_registry_url(n, "https://x"), "REGISTRY_PUBLIC_URL", "https://mcp.example.com/v0/"),
        (lambda n: env_choice(n, "all", ("all", "reviewed")), "REGISTRY_DEFAULT_VERSION_POLICY", "some"),
        (env_database, "DATABASE_URL", "sqlite:///db.sqlite3"),
        (env_redis_url, "REDIS_URL", "redis://127.0.0.1:notaport/0"),
        (env_redis_url, "REDIS_URL", "redis://127.0.0.1:6379/zero"),
        (env_redis_url, "REDIS_URL", "unix:///run/redis.sock"),
        (lambda n: env_log_level(n, "INFO"), "LOG_LEVEL", "verbose"),
    ],
)
def test_malformed_values_fail_naming_the_variable(monkeypatch, reader, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ImproperlyConfigured, match=name):
        reader(name)


def test_a_log_level_is_a_logging_level_in_any_case(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert env_log_level("LOG_LEVEL", "INFO") == "DEBUG"


@pytest.mark.parametrize("raw, problem", [
    ("https://mirror:s3cret@registry.example", "must not carry credentials"),
    ("https://token@registry.example/", "must not carry credentials"),
    ("https://registry.example/?tenant=1", "must not carry a query or fragment"),
    ("https://registry.example#v0.1", "must not carry a query or fragment"),
])
def test_a_registry_url_carries_neither_credentials_nor_a_query(monkeypatch, raw, problem):
    """The sync stores and logs MIRROR_UPSTREAM_URL, and `/v0.1/…` is appended to it."""
    monkeypatch.setenv("MIRROR_UPSTREAM_URL", raw)
    with pytest.raises(ImproperlyConfigured, match=f"MIRROR_UPSTREAM_URL {problem}") as raised:
        env_registry_url("MIRROR_UPSTREAM_URL", "https://x")
    assert "s3cret" not in str(raised.value)


def test_a_registry_url_may_have_a_path_of_its_own(monkeypatch):
    monkeypatch.setenv("REGISTRY_PUBLIC_URL", "https://intranet.example/mcp-registry/")
    assert env_registry_url("REGISTRY_PUBLIC_URL", "") == "https://intranet.example/mcp-registry"


def test_file_variant_reads_a_secret(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("DJANGO_SECRET_KEY_FILE", str(secret))
    assert env_str("DJANGO_SECRET_KEY") == "from-a-file"


@pytest.mark.parametrize("name, raw, message", [
    ("MIRROR_SYNC_INTERVAL", "sometimes", "MIRROR_SYNC_INTERVAL must be a positive duration"),
    ("MIRROR_PAGE_SIZE", "101", "MIRROR_PAGE_SIZE must be at most 100"),
    ("DJANGO_SECURE_HSTS_SECONDS", "-1", "DJANGO_SECURE_HSTS_SECONDS must be at least 0"),
    ("DJANGO_SECURE_SSL_REDIRECT", "always", "DJANGO_SECURE_SSL_REDIRECT must be a boolean"),
    ("DJANGO_BEHIND_TLS_PROXY", "nginx", "DJANGO_BEHIND_TLS_PROXY must be a boolean"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'verbose'"),
    ("REDIS_URL", "redis://127.0.0.1:notaport/0", "REDIS_URL must name a host and a numeric port"),
    ("MIRROR_UPSTREAM_URL", "http://exa mple.com", "MIRROR_UPSTREAM_URL must be an http(s) URL"),
    ("ADMIN_LOGIN_FAILURE_LIMIT", "0", "ADMIN_LOGIN_FAILURE_LIMIT must be at least 1"),
    ("ADMIN_LOGIN_LOCKOUT", "forever", "ADMIN_LOGIN_LOCKOUT must be a positive duration"),
])
def test_settings_refuse_to_start_on_a_bad_value(name, raw, message):
    result = run_with_settings(["-c", "import django; django.setup()"], **{name: raw})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("variables, expected", [
    ({}, "False 0 None"),
    ({"DJANGO_SECURE_SSL_REDIRECT": "true", "DJANGO_SECURE_HSTS_SECONDS": "31536000", "DJANGO_BEHIND_TLS_PROXY": "yes"},
     "True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https')"),
])
def test_tls_settings_are_off_unless_set(variables, expected):
    unset = dict.fromkeys(["DJANGO_SECURE_SSL_REDIRECT", "DJANGO_SECURE_HSTS_SECONDS", "DJANGO_BEHIND_TLS_PROXY"])
    result = run_with_settings(
        ["-c", "from django.conf import settings as s;"
               "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"],
        **{**unset, **variables},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_earlier_secret_keys_come_from_a_comma_separated_list():
    result = run_with_settings(["-c", "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"],
                               DJANGO_SECRET_KEY_FALLBACKS=" old-key-2 ,old-key-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['old-key-2', 'old-key-1']"


def test_the_deploy_check_accepts_tls_set_from_the_environment():
    result = run_with_settings([str(MANAGE_PY), "check", "--deploy"],
                               DJANGO_SECURE_SSL_REDIRECT="true", DJANGO_SECURE_HSTS_SECONDS="31536000")
    assert result.returncode == 0, result.stderr
    assert "security.W004" not in result.stderr and "security.W008" not in result.stderr


@pytest.mark.parametrize("flag, threshold", [(None, "5"), ("false", "None")])
def test_prepared_statements_are_on_unless_turned_off(flag, threshold):
    result = run_with_settings(
        ["-c", "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS'];"
               "print(o['prepare_threshold'], o['sslmode'])"],
        DATABASE_URL="postgres://u@db.example:5432/registry?sslmode=require", DATABASE_PREPARED_STATEMENTS=flag,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [threshold, "require"]


# What gunicorn reads from registry_project/gunicorn_conf.py, loaded as gunicorn loads it.
GUNICORN_SETTINGS = """
import os, runpy
from gunicorn.config import Config
{prepare}
config = Config()
for name, value in runpy.run_module("registry_project.gunicorn_conf").items():
    if name in config.settings:
        config.set(name, value)
print(config.workers, config.control_socket_disable)
"""


@pytest.mark.parametrize("prepare, concurrency, expected", [
    ("os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})", None, "3 True"),  # a container given one CPU
    ("os.sched_getaffinity = lambda pid: set(range(64))", None, "12 True"),  # PostgreSQL allows 100 connections
    ("", "7", "7 True"),
])
def test_gunicorn_runs_2_processes_per_available_cpu_plus_one_at_most_12(prepare, concurrency, expected):
    result = run_with_settings(["-c", GUNICORN_SETTINGS.format(prepare=prepare)], WEB_CONCURRENCY=concurrency)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize("concurrency, message", [
    ("two", "WEB_CONCURRENCY must be an integer, got 'two'"),
    ("0", "WEB_CONCURRENCY must be at least 1, got 0"),
])
def test_the_gunicorn_settings_refuse_a_malformed_web_concurrency(concurrency, message):
    result = run_with_settings(["-c", "import registry_project.gunicorn_conf"], WEB_CONCURRENCY=concurrency)
    assert result.returncode != 0
    assert message in result.stderr


# --- hosts, origins and the database name ----------------------------------------------------------

@pytest.mark.parametrize("raw", ["", " , ", "https://registry.example.com", "registry.example.com/admin"])
def test_allowed_hosts_must_be_host_names(monkeypatch, raw):
    # With none (or only URLs, which never match a Host header) every request would be answered 400.
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", raw)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_ALLOWED_HOSTS must"):
        env_hosts("DJANGO_ALLOWED_HOSTS", ["localhost"])


def test_allowed_hosts_take_names_addresses_and_patterns(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "registry.example.com, .example.org,10.0.0.5,[::1],*")
    assert env_hosts("DJANGO_ALLOWED_HOSTS", ["localhost"]) == [
        "registry.example.com", ".example.org", "10.0.0.5", "[::1]", "*"]


@pytest.mark.parametrize("raw", ["registry.example.com", "https://registry.example.com/admin/",
                                 "https://registry.example.com?x=1", "ftp://registry.example.com"])
def test_csrf_trusted_origins_must_be_origins(monkeypatch, raw):
    # Django compares a request's Origin (scheme://host[:port]) with each entry exactly: anything else never matches.
    monkeypatch.setenv("DJANGO_CSRF_TRUSTED_ORIGINS", raw)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_CSRF_TRUSTED_ORIGINS must"):
        env_origins("DJANGO_CSRF_TRUSTED_ORIGINS")


def test_csrf_trusted_origins_lose_a_trailing_slash(monkeypatch):
    monkeypatch.setenv("DJANGO_CSRF_TRUSTED_ORIGINS", "https://registry.example.com/, https://*.example.org:8443")
    assert env_origins("DJANGO_CSRF_TRUSTED_ORIGINS") == ["https://registry.example.com", "https://*.example.org:8443"]


def test_the_settings_read_hosts_and_origins_with_these_checks():
    result = run_with_settings(["-c", "import django; django.setup()"], DJANGO_ALLOWED_HOSTS="https://registry.example")
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must" in result.stderr
    result = run_with_settings(["-c", "import django; django.setup()"], DJANGO_CSRF_TRUSTED_ORIGINS="registry.example")
    assert result.returncode != 0
    assert "DJANGO_CSRF_TRUSTED_ORIGINS must" in result.stderr


@pytest.mark.parametrize("raw", ["postgres://", "postgres://registry@db.example:5432/", "postgres://db.example"])
def test_a_database_url_must_name_the_database(monkeypatch, raw):
    monkeypatch.setenv("DATABASE_URL", raw)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must name a database"):
        env_database("DATABASE_URL")


def test_a_sync_longer_than_an_hour_is_not_handed_to_a_second_worker_while_it_runs():
    """Redis redelivers a late-acked task after the visibility timeout (an hour by default)."""
    result = run_with_settings([
        "-c", "from registry_project.celery import app; print(app.conf.broker_transport_options['visibility_timeout'])",
    ], MIRROR_SYNC_TIME_LIMIT="3h")

    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 3 * 3600 + 60  # past the sync's hard time limit
