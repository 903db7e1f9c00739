from datetime import datetime, timedelta, timezone

import httpx
import pytest
import stamina
import tenacity.nap

from mirror.upstream import UpstreamClient, UpstreamError, format_timestamp, parse_timestamp, retry_after_seconds
from tests.mirror.conftest import UPSTREAM

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-12-12T09:30:00Z", datetime(2025, 12, 12, 9, 30, tzinfo=timezone.utc)),
        ("2025-12-12T09:30:00.123456789Z", datetime(2025, 12, 12, 9, 30, 0, 123456, tzinfo=timezone.utc)),
        ("2025-12-12t09:30:00.1z", datetime(2025, 12, 12, 9, 30, 0, 100000, tzinfo=timezone.utc)),
        ("2025-12-12T11:30:00+02:00", datetime(2025, 12, 12, 9, 30, tzinfo=timezone.utc)),
    ],
)
def test_parse_timestamp_accepts_rfc3339(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["2025-12-12T09:30:00", "2025-12-12", "yesterday", "", None, 17])
def test_parse_timestamp_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_format_timestamp_is_rfc3339_utc():
    moment = datetime(2025, 12, 12, 10, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(moment) == "2025-12-12T09:30:00.000005Z"


@pytest.mark.parametrize(
    "header, expected",
    [
        ("7", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
        ("100000", 120.0),  # capped at MIRROR_RETRY_MAX_WAIT
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_http_date(header, expected):
    assert retry_after_seconds(header, now=NOW) == expected


@pytest.fixture
def slept(monkeypatch):
    """Real backoff (stamina's testing mode off), with tenacity's sleep recorded instead of slept."""
    durations = []
    monkeypatch.setattr(tenacity.nap.time, "sleep", durations.append)
    with stamina.set_testing(False):
        yield durations


@pytest.mark.parametrize("header, wait", [("7", 7.0), ("Thu, 01 Jan 2099 00:00:00 GMT", 120.0)])
def test_429_waits_as_long_as_retry_after_says(slept, header, wait, respx_mock):
    route = respx_mock.get(f"{UPSTREAM}/v0.1/servers").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": header}),
        httpx.Response(200, json={"servers": [], "metadata": {"count": 0}}),
    ])

    with UpstreamClient(UPSTREAM) as client:
        pages = list(client.server_pages())

    assert len(pages) == 1 and route.call_count == 2
    assert slept == [wait]


@pytest.mark.parametrize("header", ["0", "Thu, 01 Jan 2015 00:00:00 GMT"])
def test_a_retry_after_already_passed_still_backs_off(slept, header, respx_mock):
    """A date in the past (upstream's clock behind ours) or 0 must not turn the retries into a burst."""
    respx_mock.get(f"{UPSTREAM}/v0.1/servers").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": header}),
        httpx.Response(200, json={"servers": [], "metadata": {"count": 0}}),
    ])

    with UpstreamClient(UPSTREAM) as client:
        list(client.server_pages())

    assert len(slept) == 1 and 1.0 <= slept[0] <= 2.0


def test_5xx_backs_off_exponentially_with_jitter(slept, respx_mock):
    respx_mock.get(f"{UPSTREAM}/v0.1/servers").mock(side_effect=[httpx.Response(502)] * 2 + [
        httpx.Response(200, json={"servers": [], "metadata": {"count": 0}}),
    ])

    with UpstreamClient(UPSTREAM) as client:
        list(client.server_pages())

    # wait_initial 1 s doubling per attempt, plus up to 1 s of jitter.
    assert len(slept) == 2
    assert 1.0 <= slept[0] <= 2.0 and 2.0 <= slept[1] <= 3.0


def test_exhausted_retries_raise_a_clear_error(respx_mock):
    respx_mock.get(f"{UPSTREAM}/v0.1/servers").mock(side_effect=httpx.ConnectError("connection refused"))

    with UpstreamClient(UPSTREAM) as client, pytest.raises(UpstreamError) as raised:
        list(client.server_pages())

    message = str(raised.value)
    assert message.startswith(f"upstream GET {UPSTREAM}/v0.1/servers?limit=100&include_deleted=true failed after 3")
    assert "request failed (ConnectError: connection refused)" in message


def test_pages_are_yielded_one_at_a_time(respx_mock, settings):
    """The generator fetches a page only when the previous one was consumed: memory stays flat."""
    settings.MIRROR_PAGE_SIZE = 1
    route = respx_mock.get(f"{UPSTREAM}/v0.1/servers").mock(side_effect=[
        httpx.Response(200, json={"servers": [{"n": 1}], "metadata": {"nextCursor": "a:1", "count": 1}}),
        httpx.Response(200, json={"servers": [], "metadata": {"count": 0}}),
    ])

    with UpstreamClient(UPSTREAM) as client:
        pages = client.server_pages()
        first = next(pages)
        assert (first.number, first.entries, first.next_cursor, route.call_count) == (1, [{"n": 1}], "a:1", 1)
        assert [page.number for page in pages] == [2]
