"""HTTP access to the upstream MCP Registry: paged `GET /v0.1/servers`, with retries.

Timeouts, connection errors, 5xx, 429 and unparseable bodies are retried with
exponential backoff and jitter (stamina); a `Retry-After` header sets the wait.
Pages are yielded one at a time, so the sync never holds the whole upstream.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx
import ijson
import stamina
import structlog
from django.conf import settings

logger = structlog.get_logger(__name__)

USER_AGENT = "mcp-internal-registry-mirror/1"
LIST_PATH = "/v0.1/servers"

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def is_storable_text(value: str) -> bool:
    """Whether PostgreSQL can store the string: no NUL character, no unpaired UTF-16 surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def storable_text(value: str) -> str:
    """Untrusted text made storable for messages and records: NUL and unpaired surrogates escaped."""
    if is_storable_text(value):
        return value
    return value.encode(errors="backslashreplace").decode().replace("\x00", "\\x00")


class UpstreamError(Exception):
    """The upstream could not be read (after the retries), or broke the paging protocol."""

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class _RetryableResponse(Exception):
    """A response worth asking for again: 5xx, 429 or a body that is not a page."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Page:
    number: int
    entries: list
    next_cursor: str | None


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp (any number of fractional digits, truncated to microseconds), in UTC.

    ValueError also for a moment outside years 1–9999 in UTC (`9999-12-31T23:59:59-05:00`):
    PostgreSQL would store it, but it could never be read back.
    """
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    date, time, fraction, offset = match.groups()
    fraction = f".{fraction[:6].ljust(6, '0')}" if fraction else ""
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{time}{fraction}{offset}").astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"outside years 1–9999 in UTC: {value!r}") from None


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def retry_after_seconds(header: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), capped at MIRROR_RETRY_MAX_WAIT."""
    if not header:
        return None
    header = header.strip()
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), settings.MIRROR_RETRY_MAX_WAIT.total_seconds())


# Timeouts, refused or dropped connections, bodies cut short or undecodable.
_TRANSIENT_HTTP_ERRORS = (httpx.TransportError, httpx.DecodingError)


def _backoff(exc: Exception) -> bool | float:
    """stamina's hook: retry transport errors and retryable responses, waiting Retry-After if given.

    A Retry-After already passed (0, or a date our clock has passed) gets the usual backoff, not none.
    """
    if isinstance(exc, _TRANSIENT_HTTP_ERRORS):
        return True
    if isinstance(exc, _RetryableResponse):
        return exc.retry_after or True
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, _TRANSIENT_HTTP_ERRORS):
        return f"request failed ({type(exc).__name__}: {exc})"
    return str(exc)


def fetch_json(client: httpx.Client, url: str, *, params: dict | None = None, check=None, what: str = "upstream"):
    """GET a JSON document, retrying what is transient; UpstreamError once the retries are spent.

    `check(body)` runs inside the retry loop and raises _RetryableResponse for a body that parsed but
    has the wrong shape, so a truncated or garbage page is asked for again like a 5xx.
    """
    attempts = settings.MIRROR_RETRY_ATTEMPTS
    try:
        for attempt in stamina.retry_context(
            on=_backoff, attempts=attempts, timeout=None, wait_initial=1.0, wait_max=30.0, wait_jitter=1.0
        ):
            with attempt:
                if attempt.num > 1:
                    logger.warning("upstream_retry", url=url, params=params, attempt=attempt.num)
                body = _get_once(client, url, params=params, what=what)
                return check(body) if check else body
    except (*_TRANSIENT_HTTP_ERRORS, _RetryableResponse) as exc:
        request_url = client.build_request("GET", url, params=params).url
        raise UpstreamError(f"{what} GET {request_url} failed after {attempts} attempt(s): {_describe(exc)}") from exc
    raise AssertionError("unreachable: stamina either returns or raises")


def _get_once(client: httpx.Client, url: str, *, params: dict | None, what: str) -> object:
    response = client.get(url, params=params)
    if response.status_code == 429 or response.status_code >= 500:
        raise _RetryableResponse(
            f"HTTP {response.status_code} {response.reason_phrase}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if response.status_code != 200:
        # Any other answer (400, 404, 422, a redirect) will not get better by asking again.
        raise UpstreamError(
            f"{what} GET {response.request.url} answered HTTP {response.status_code} "
            f"{response.reason_phrase}: {storable_text(response.text[:300])}",
            status_code=response.status_code,
        )
    try:
        return _json_parse(response.content)
    except ValueError as exc:
        raise _RetryableResponse(f"body is not valid JSON ({exc})") from exc


def _json_parse(content: bytes) -> object:
    """json.loads, or for a body nested deeper than it can recurse, ijson, which builds without recursing.

    Upstream accepts 10,000 levels, and 4 KB of publisher `_meta` holds 2,000: one such entry must
    not make its whole page unreadable. The sync rejects that entry on its own.
    """
    try:
        return json.loads(content)
    except RecursionError:
        # basic_parse, not items(): items() builds a path string per level, quadratic in the depth.
        builder = ijson.ObjectBuilder()
        try:
            for event, value in ijson.basic_parse(content, use_float=True):
                builder.event(event, value)
        except ijson.JSONError as exc:
            raise ValueError(str(exc)) from exc
        return builder.value


def _page_parts(body: object) -> tuple[list, str | None]:
    if not isinstance(body, dict):
        raise _RetryableResponse("body is not a JSON object")
    entries, metadata = body.get("servers"), body.get("metadata")
    if not isinstance(entries, list):
        raise _RetryableResponse("`servers` is not a list")
    if not isinstance(metadata, dict):
        raise _RetryableResponse("`metadata` is not an object")
    next_cursor = metadata.get("nextCursor")
    if next_cursor is not None and (
        not isinstance(next_cursor, str) or not next_cursor or not is_storable_text(next_cursor)
    ):
        raise _RetryableResponse("`metadata.nextCursor` is not a non-empty string without NUL or lone surrogates")
    return entries, next_cursor


def http_client() -> httpx.Client:
    return httpx.Client(
        timeout=settings.MIRROR_HTTP_TIMEOUT, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
    )


class UpstreamClient:
    """The upstream registry's list endpoint, as a stream of pages."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._http = http_client()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._http.close()

    def server_pages(self, *, updated_since: datetime | None = None) -> Iterator[Page]:
        """Every page of `GET /v0.1/servers` until `nextCursor` is absent.

        Aborts (UpstreamError) on a repeated cursor or past MIRROR_MAX_PAGES pages.
        """
        max_pages = settings.MIRROR_MAX_PAGES
        # Deleted entries too, so a full sync sees every status (updated_since forces it anyway).
        params = {"limit": settings.MIRROR_PAGE_SIZE, "include_deleted": "true"}
        if updated_since is not None:
            params["updated_since"] = format_timestamp(updated_since)
        seen_cursors: set[str] = set()
        number = 0
        while True:
            if number >= max_pages:
                raise UpstreamError(
                    f"upstream still had more after {max_pages} pages (MIRROR_MAX_PAGES); aborting the run"
                )
            entries, next_cursor = self._fetch_page(params)
            number += 1
            yield Page(number=number, entries=entries, next_cursor=next_cursor)
            if next_cursor is None:
                return
            if next_cursor in seen_cursors:
                raise UpstreamError(f"upstream repeated the cursor {next_cursor!r} on page {number}; aborting the run")
            seen_cursors.add(next_cursor)
            params = {**params, "cursor": next_cursor}

    def _fetch_page(self, params: dict) -> tuple[list, str | None]:
        return fetch_json(self._http, f"{self.base_url}{LIST_PATH}", params=params, check=_page_parts)
