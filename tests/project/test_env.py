import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry_project.env import (
    env_bool, env_choice, env_database, env_duration, env_http_url, env_int, env_registry_url, env_str,
)


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
        (lambda n: env_http_url(n, "https://x"), "MIRROR_UPSTREAM_URL", "ftp://upstream"),
        (lambda n: env_registry_url(n, "https://x"), "MIRROR_UPSTREAM_URL", "https://registry.example/v0.1"),
        (lambda n: env_registry_url(n, "https://x"), "REGISTRY_PUBLIC_URL", "https://mcp.example.com/v0/"),
        (lambda n: env_choice(n, "all", ("all", "reviewed")), "REGISTRY_DEFAULT_VERSION_POLICY", "some"),
        (env_database, "DATABASE_URL", "sqlite:///db.sqlite3"),
    ],
)
def test_malformed_values_fail_naming_the_variable(monkeypatch, reader, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ImproperlyConfigured, match=name):
        reader(name)


def test_a_registry_url_may_have_a_path_of_its_own(monkeypatch):
    monkeypatch.setenv("REGISTRY_PUBLIC_URL", "https://intranet.example/mcp-registry/")
    assert env_registry_url("REGISTRY_PUBLIC_URL", "") == "https://intranet.example/mcp-registry"


def test_file_variant_reads_a_secret(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("DJANGO_SECRET_KEY_FILE", str(secret))
    assert env_str("DJANGO_SECRET_KEY") == "from-a-file"


def test_settings_refuse_to_start_on_a_bad_value(monkeypatch):
    monkeypatch.setenv("MIRROR_SYNC_INTERVAL", "sometimes")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        capture_output=True, text=True, env={**os.environ, "DJANGO_SETTINGS_MODULE": "registry_project.settings"},
    )
    assert result.returncode != 0
    assert "MIRROR_SYNC_INTERVAL must be a positive duration" in result.stderr


@pytest.mark.parametrize("flag, threshold", [(None, "5"), ("false", "None")])
def test_prepared_statements_are_on_unless_turned_off(flag, threshold):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "registry_project.settings",
                   "DATABASE_URL": "postgres://u@db.example:5432/registry?sslmode=require"}
    environment.pop("DATABASE_PREPARED_STATEMENTS", None)
    if flag is not None:
        environment["DATABASE_PREPARED_STATEMENTS"] = flag
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS'];"
                               "print(o['prepare_threshold'], o['sslmode'])"],
        capture_output=True, text=True, env=environment, check=True,
    )
    assert result.stdout.split() == [threshold, "require"]
