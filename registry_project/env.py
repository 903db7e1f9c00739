"""Typed, strict readers for settings from the environment.

Every reader fails at start with an ImproperlyConfigured that names the variable,
so a typo in a deployment never turns into a silently wrong default. Each also
accepts `<NAME>_FILE`, a path whose contents hold the value (Docker/K8s secrets).
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# The number without its leading zeros, whose length bounds it before int() reads it.
_DURATION = re.compile(r"^\s*0*([0-9]+)\s*([smhd]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Far beyond any sensible interval or lockout, and far from where now + duration passes the year 9999
# (django-axes adds the lockout to the current time).
_DURATION_MAX_SECONDS = 36500 * 86400  # 100 years
# Reverse-DNS host, `/`, one name: the shape of upstream's `io.modelcontextprotocol.registry/official`.
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_META_NAMESPACE = re.compile(rf"(?:{_DNS_LABEL}\.)+{_DNS_LABEL}/[a-z0-9][a-z0-9._-]*", re.IGNORECASE)
_UPSTREAM_META_NAMESPACE_PREFIX = "io.modelcontextprotocol.registry/"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_str(name: str, default: str | None = None) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path!r}: {exc.strerror}") from exc
    return os.environ.get(name, default)


def env_required(name: str, hint: str) -> str:
    value = env_str(name)
    if not value:
        raise ImproperlyConfigured(f"{name} is not set. {hint}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}")
    return value


def env_duration(name: str, default: timedelta) -> timedelta:
    """Seconds, or a number with a unit: `90`, `90s`, `15m`, `1h`, `1d`; at most 100 years."""
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    match = _DURATION.match(raw.lower())
    if not match or match.group(1) == "0":
        raise ImproperlyConfigured(f"{name} must be a positive duration such as 3600, 15m, 1h or 1d, got {raw!r}")
    number, unit = match.groups()
    if len(number) > len(str(_DURATION_MAX_SECONDS)) or int(number) * _DURATION_UNITS[unit] > _DURATION_MAX_SECONDS:
        raise ImproperlyConfigured(f"{name} must be at most 36500d (100 years), got {raw!r}")
    return timedelta(seconds=int(number) * _DURATION_UNITS[unit])


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (env_str(name) or default).strip()
    if raw not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def env_log_level(name: str, default: str) -> str:
    raw = env_str(name) or default
    if raw.strip().upper() not in _LOG_LEVELS:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(_LOG_LEVELS)}, got {raw!r}")
    return raw.strip().upper()


def env_meta_namespace(name: str, default: str) -> str:
    """A reverse-DNS `_meta` key such as `com.example.registry/curation`, never in upstream's namespace."""
    raw = (env_str(name) or default).strip()
    if not _META_NAMESPACE.fullmatch(raw):
        raise ImproperlyConfigured(f"{name} must be a reverse-DNS namespace such as com.example.registry/curation "
                                   f"(host name, `/`, a name of letters, digits, `.`, `_` or `-`), got {raw!r}")
    if raw.lower().startswith(_UPSTREAM_META_NAMESPACE_PREFIX):
        raise ImproperlyConfigured(f"{name} must be your own namespace, not the upstream registry's "
                                   f"({_UPSTREAM_META_NAMESPACE_PREFIX}…), got {raw!r}")
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_hosts(name: str, default: list[str]) -> list[str]:
    """Django's ALLOWED_HOSTS: host names, addresses or patterns (`.example.com`, `*`); never empty, never URLs."""
    hosts = env_list(name, default)
    if not hosts:
        raise ImproperlyConfigured(f"{name} must list at least one host name (comma-separated): with none, "
                                   f"every request is refused")
    for host in hosts:
        if "/" in host or " " in host:
            raise ImproperlyConfigured(f"{name} must list host names such as registry.example.com, not URLs, "
                                       f"got {host!r}")
    return hosts


def env_origins(name: str) -> list[str]:
    """Django's CSRF_TRUSTED_ORIGINS: `scheme://host[:port]` each (the host may start with `*.`)."""
    origins = []
    for raw in env_list(name, []):
        origin = raw.rstrip("/")
        parts = urlsplit(origin) if is_http_url(origin) else None
        if parts is None or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
            raise ImproperlyConfigured(f"{name} must list origins such as https://registry.example.com "
                                       f"(scheme, host and port only), got {raw!r}")
        origins.append(origin)
    return origins


def _port_is_valid(parts: SplitResult) -> bool:
    try:
        parts.port
    except ValueError:
        return False
    return True


def is_http_url(text: str, *, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    """An absolute URL of these schemes with a host, a numeric port if any, and only visible characters
    (no whitespace, no invisible or direction-changing ones that would make it read as another URL)."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return (parts.scheme in schemes and bool(parts.hostname) and _port_is_valid(parts)
            and text.isprintable() and " " not in text)


def env_http_url(name: str, default: str) -> str:
    raw = (env_str(name) or default).strip()
    if not is_http_url(raw):
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def registry_url_problem(url: str) -> str | None:
    """Why `url` cannot be a registry's base URL, or None. Clients and the sync append `/v0.1/…` to it, and
    the sync stores it with every run and logs it, so a URL with credentials is never repeated."""
    authority = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]
    if "@" in authority:
        return "must not carry credentials: it would be stored with every sync run and logged"
    if not is_http_url(url):
        return f"must be an http(s) URL, got {url!r}"
    parts = urlsplit(url)
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return f"must not carry a query or fragment, as `/v0.1/…` is appended to it, got {url!r}"
    base = url.rstrip("/")
    if re.search(r"/v0(?:\.1)?$", base):
        return f"must be the registry's base URL without the API version ({base.rsplit('/', 1)[0]!r}), got {url!r}"
    return None


def env_registry_url(name: str, default: str) -> str:
    url = (env_str(name) or default).strip()
    problem = registry_url_problem(url)
    if problem:
        raise ImproperlyConfigured(f"{name} {problem}")
    return url.rstrip("/")


def env_database(name: str) -> dict:
    raw = env_required(name, "Set it to postgres://USER:PASSWORD@HOST:PORT/NAME, or run through `make run` / "
                             "`make test`, which start an embedded PostgreSQL.")
    try:
        config = environ.Env.db_url_config(raw)
    except Exception as exc:  # django-environ raises several types for garbage
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from exc
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{name} must point to PostgreSQL (postgres://…), got {raw.split(':', 1)[0]!r}")
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database: postgres://USER:PASSWORD@HOST:PORT/NAME")
    # libpq's URI form percent-encodes a Unix socket directory as the host (%2Fpath%2Fto%2Fdir).
    config["HOST"] = unquote(config["HOST"])
    return config


def env_redis_url(name: str) -> str:
    raw = env_required(name, "Set it to redis://HOST:PORT/DB, or run through `make run` / `make test`, "
                             "which start an embedded Redis.")
    parts = urlsplit(raw)
    # The URL may hold a password, so the messages show only the part at fault.
    if parts.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"{name} must be a redis:// or rediss:// URL, got scheme {parts.scheme!r}")
    if not parts.hostname or not _port_is_valid(parts):
        raise ImproperlyConfigured(f"{name} must name a host and a numeric port: redis://HOST:PORT/DB")
    if not re.fullmatch(r"/?\d*", parts.path):
        raise ImproperlyConfigured(f"{name} must end in a database number (redis://HOST:PORT/DB), "
                                   f"got {parts.path!r}")
    return raw
