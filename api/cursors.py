"""Opaque keyset cursors for `GET /v0.1/servers`.

A cursor carries the last row's (name, version, updated_at) and the list filters of the first page, because
VS Code drops `search` from page 2 on. It is compact JSON in base64url without padding, a `.`, and
a truncated HMAC: only `A–Z a–z 0–9 - _ .`, so clients may append it to a URL raw. With a cursor,
the filters inside it win over the query string. Cursors signed with a key in SECRET_KEY_FALLBACKS
still verify, so rotating DJANGO_SECRET_KEY does not break a client's walk in progress.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from api.rendering import compact_json

_SALT = "api.cursor"
_MAC_BYTES = 12
_MAX_LENGTH = 4096


class CursorError(ValueError):
    pass


@dataclass(frozen=True)
class ListFilters:
    search: str | None = None
    version: str | None = None
    updated_since: datetime | None = None
    include_deleted: bool | None = None

    @property
    def include_tombstones(self) -> bool:
        # As upstream: `updated_since` forces deleted entries in.
        return bool(self.include_deleted) or self.updated_since is not None


@dataclass(frozen=True)
class Cursor:
    name: str
    version: str
    updated_at: datetime  # the last row's, for incremental pages, which run in `updated_at` order
    filters: ListFilters


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, *, secret: str | None = None) -> str:
    return _b64encode(salted_hmac(_SALT, payload, secret=secret, algorithm="sha256").digest()[:_MAC_BYTES])


def _mac_verifies(payload: str, mac: str) -> bool:
    return any(constant_time_compare(mac, _mac(payload, secret=secret))
               for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


def cursor_encode(cursor: Cursor) -> str:
    f = cursor.filters
    fields = [
        cursor.name, cursor.version, cursor.updated_at.isoformat(), f.search, f.version,
        f.updated_since.isoformat() if f.updated_since else None, f.include_deleted,
    ]
    payload = _b64encode(compact_json(fields).encode())
    return f"{payload}.{_mac(payload)}"


def cursor_decode(raw: str) -> Cursor:
    """Parse a cursor as sent back by a client (raw or percent-encoded); CursorError if it is not ours."""
    text = unquote(raw.strip()) if "%" in raw else raw.strip()
    if len(text) > _MAX_LENGTH or text.count(".") != 1:
        raise CursorError("malformed cursor")
    payload, mac = text.split(".")
    if not _mac_verifies(payload, mac):
        raise CursorError("cursor failed its integrity check")
    try:
        name, version, updated_at, search, version_filter, updated_since, include_deleted = json.loads(
            _b64decode(payload))
        updated_at = datetime.fromisoformat(updated_at)
        filters = ListFilters(
            search=search, version=version_filter,
            updated_since=datetime.fromisoformat(updated_since) if updated_since else None,
            include_deleted=include_deleted,
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise CursorError("malformed cursor") from exc
    if not (isinstance(name, str) and isinstance(version, str)):
        raise CursorError("malformed cursor")
    return Cursor(name=name, version=version, updated_at=updated_at, filters=filters)
