import re
from datetime import datetime, timedelta, timezone as dt_timezone
from urllib.parse import quote, unquote

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from api.cursors import Cursor, ListFilters, cursor_decode, cursor_encode
from curation.choices import CurationState, VersionPolicy
from curation.models import Listing, VersionCuration
from curation.services import listing_refresh
from mirror.choices import UpstreamStatus
from mirror.models import ServerVersion
from tests.api.registry_helpers import OFFICIAL, body, make_server, path_name, served_pairs, set_server_state, walk
from tests.factories import ServerVersionFactory

pytestmark = pytest.mark.django_db

WEATHER = "io.github.acme/weather"
CURSOR_ALPHABET = re.compile(r"^[A-Za-z0-9._-]+$")
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
}


def assert_problem(response, status, detail=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = body(response)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert set(problem) <= {"title", "status", "detail", "errors"}
    if detail is not None:
        assert problem["detail"] == detail
    return problem


def assert_cors(response):
    for header, value in CORS.items():
        assert response[header] == value


@pytest.fixture
def catalog():
    """Two approved servers (one with three versions), one pending, one blocked."""
    make_server(WEATHER, ("1.0.0", "1.1.0", "2.0.0"), meta={"owner": "team-a"})
    make_server("io.github.acme/Mail-Server", ("0.1.0",))
    make_server("io.github.other/pending", ("1.0.0",), state=CurationState.PENDING)
    make_server("io.github.other/blocked", ("1.0.0",), state=CurationState.BLOCKED)


# --- shapes ---------------------------------------------------------------------------------------

def test_list_entries_carry_the_stored_server_json_verbatim_and_both_meta_blocks(client, catalog, settings):
    response = client.get("/v0.1/servers")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    page = body(response)
    assert set(page) == {"servers", "metadata"}
    assert page["metadata"] == {"count": 4}
    for version in ServerVersion.objects.filter(server__name=WEATHER):
        assert f'{{"server":{version.server_json},"_meta":'.encode() in response.content
    entry = page["servers"][1]
    assert entry["server"]["name"] == WEATHER
    assert entry["_meta"][OFFICIAL] == {
        "status": "active", "statusChangedAt": "2025-12-12T09:30:00Z", "publishedAt": "2025-12-12T09:30:00Z",
        "updatedAt": entry["_meta"][OFFICIAL]["updatedAt"], "isLatest": False,
    }
    org = entry["_meta"][settings.REGISTRY_META_NAMESPACE]
    assert org["owner"] == "team-a" and org["curationState"] == "approved" and org["approvedBy"] == "alice"


def test_updated_at_is_the_listing_time_in_rfc3339_with_trimmed_fraction(client):
    make_server(WEATHER)
    Listing.objects.update(updated_at=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=dt_timezone.utc))

    entry = body(client.get("/v0.1/servers"))["servers"][0]

    assert entry["_meta"][OFFICIAL]["updatedAt"] == "2026-01-02T03:04:05.12Z"


def test_only_served_versions_appear_and_latest_is_computed_among_them(client):
    make_server(WEATHER, ("1.0.0", "1.1.0", "2.0.0", "3.0.0"),
                statuses={"3.0.0": UpstreamStatus.DEPRECATED}, version_states={"2.0.0": CurationState.BLOCKED})

    listed = body(client.get("/v0.1/servers"))["servers"]
    latest = body(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/latest"))

    assert [e["server"]["version"] for e in listed] == ["1.0.0", "1.1.0"]
    assert [e["_meta"][OFFICIAL]["isLatest"] for e in listed] == [False, True]
    assert latest["server"]["version"] == "1.1.0"
    for hidden in ("2.0.0", "3.0.0"):
        assert_problem(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/{hidden}"), 404, "Server not found")


def test_reviewed_policy_serves_only_versions_approved_on_their_own(client):
    make_server(WEATHER, ("1.0.0", "1.1.0"), policy=VersionPolicy.REVIEWED,
                version_states={"1.0.0": CurationState.APPROVED})

    versions = body(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions"))

    assert [e["server"]["version"] for e in versions["servers"]] == ["1.0.0"]
    assert versions["metadata"] == {"count": 1}


def test_unserved_servers_are_404_exactly_like_unknown_ones(client, catalog):
    for name in ("io.github.other/pending", "io.github.other/blocked", "io.github.nobody/unknown"):
        for suffix in ("/versions", "/versions/latest", "/versions/1.0.0"):
            assert_problem(client.get(f"/v0.1/servers/{path_name(name)}{suffix}"), 404, "Server not found")


def test_versions_are_newest_publication_first(client):
    make_server(WEATHER, ("1.10.0", "2.0.0-rc.1", "1.9.0"))

    versions = body(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions"))

    assert [e["server"]["version"] for e in versions["servers"]] == ["1.9.0", "2.0.0-rc.1", "1.10.0"]
    assert [e["_meta"][OFFICIAL]["isLatest"] for e in versions["servers"]] == [False, True, False]


def test_version_latest_returns_one_entry_per_server(client, catalog):
    page = body(client.get("/v0.1/servers?version=latest"))

    assert served_pairs([page]) == [("io.github.acme/Mail-Server", "0.1.0"), (WEATHER, "2.0.0")]


def test_exact_version_filter(client, catalog):
    assert served_pairs([body(client.get("/v0.1/servers?version=1.1.0"))]) == [(WEATHER, "1.1.0")]


def test_search_is_a_case_insensitive_substring_of_the_name_only(client, catalog):
    assert served_pairs([body(client.get("/v0.1/servers?search=MAIL"))]) == [("io.github.acme/Mail-Server", "0.1.0")]
    assert body(client.get("/v0.1/servers?search=Test%20server"))["servers"] == []  # the description
    assert body(client.get("/v0.1/servers?search=%25"))["servers"] == []  # `%` is literal, not a wildcard


def test_unknown_parameters_are_ignored(client, catalog):
    assert body(client.get("/v0.1/servers?q=nothing-matches"))["metadata"]["count"] == 4


# --- pagination -----------------------------------------------------------------------------------

def test_keyset_pages_cover_everything_once_in_byte_order_with_url_safe_cursors(client):
    names = ["io.github.a/Zeta", "io.github.a/alpha", "io.github.a/beta", "io.github.b/gamma"]
    for name in names:
        make_server(name, ("1.0.0", "1.10.0", "1.9.0"))

    pages = walk(client, "?limit=5")

    expected = sorted((name, version) for name in names for version in ("1.0.0", "1.10.0", "1.9.0"))
    assert served_pairs(pages) == expected
    assert [page["metadata"]["count"] for page in pages] == [5, 5, 2]
    cursors = [page["metadata"]["nextCursor"] for page in pages[:-1]]
    assert all(CURSOR_ALPHABET.match(cursor) for cursor in cursors)
    assert len(set(cursors)) == len(cursors)
    assert "nextCursor" not in pages[-1]["metadata"]


def test_an_exactly_full_last_page_has_no_cursor(client):
    make_server(WEATHER, ("1.0.0", "2.0.0"))

    pages = walk(client, "?limit=2")

    assert len(pages) == 1 and pages[0]["metadata"] == {"count": 2}


def test_cursor_keeps_the_first_pages_filters_when_the_client_drops_them(client, catalog):
    make_server("io.github.acme/weather-extra", ("1.0.0",))
    first = body(client.get("/v0.1/servers?limit=1&version=latest&search=weather"))

    second = body(client.get(f"/v0.1/servers?limit=1&cursor={first['metadata']['nextCursor']}"))

    assert served_pairs([first, second]) == [(WEATHER, "2.0.0"), ("io.github.acme/weather-extra", "1.0.0")]
    assert "nextCursor" not in second["metadata"]


def test_a_new_latest_version_published_mid_walk_does_not_repeat_its_server(client):
    """With `version=latest` a name is listed once: the walk goes on after the name, not after the version
    (ToolHive's limit=1 walk takes one request per server, so the latest can move between pages)."""
    weather = make_server(WEATHER, ("1.0.0",))
    make_server("io.github.acme/xylophone", ("1.0.0",))
    first = body(client.get("/v0.1/servers?limit=1&version=latest"))
    ServerVersionFactory(server=weather, version="2.0.0", published_at=timezone.now())
    listing_refresh(server_ids=[weather.id])

    second = body(client.get(f"/v0.1/servers?limit=1&version=latest&cursor={first['metadata']['nextCursor']}"))

    assert served_pairs([first, second]) == [(WEATHER, "1.0.0"), ("io.github.acme/xylophone", "1.0.0")]


def test_cursor_filters_win_over_different_query_filters(client, catalog):
    first = body(client.get("/v0.1/servers?limit=1&search=weather"))

    second = body(client.get(f"/v0.1/servers?limit=1&search=mail&cursor={first['metadata']['nextCursor']}"))

    assert served_pairs([second]) == [(WEATHER, "1.1.0")]


def test_percent_encoded_cursor_is_accepted(client, catalog):
    cursor = body(client.get("/v0.1/servers?limit=1"))["metadata"]["nextCursor"]
    encoded = "".join(f"%{ord(char):02X}" for char in cursor)

    for sent in (encoded, quote(encoded, safe="")):  # once and twice percent-encoded
        assert served_pairs([body(client.get(f"/v0.1/servers?limit=1&cursor={sent}"))]) == [(WEATHER, "1.0.0")]


@pytest.mark.parametrize("cursor", [
    "garbage", "io.github.acme/weather:1.0.0", "a.b.c", "%ZZ", "x" * 5000, "eyJ9.AAAAAAAAAAAAAAAA",
])
def test_malformed_cursors_are_400_problems(client, catalog, cursor):
    problem = assert_problem(client.get(f"/v0.1/servers?cursor={quote(cursor)}"), 400)
    assert problem["errors"][0]["location"] == "query.cursor"


def test_tampered_cursor_is_rejected(client, catalog):
    cursor = body(client.get("/v0.1/servers?limit=1"))["metadata"]["nextCursor"]
    payload, mac = cursor.split(".")
    forged = cursor_encode(
        Cursor(name="a", version="b", updated_at=timezone.now(), filters=ListFilters())).split(".")[0]

    assert_problem(client.get(f"/v0.1/servers?cursor={forged}.{mac}"), 400, "Invalid cursor")
    other_last = "B" if mac.endswith("A") else "A"
    assert_problem(client.get(f"/v0.1/servers?cursor={payload}.{mac[:-1]}{other_last}"), 400, "Invalid cursor")


def test_a_walk_in_progress_survives_a_secret_key_rotation(client, catalog):
    with override_settings(SECRET_KEY="the-old-key"):
        cursor = body(client.get("/v0.1/servers?limit=1"))["metadata"]["nextCursor"]

    with override_settings(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=["the-old-key"]):
        assert served_pairs([body(client.get(f"/v0.1/servers?limit=1&cursor={cursor}"))]) == [(WEATHER, "1.0.0")]
    with override_settings(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=[]):
        assert_problem(client.get(f"/v0.1/servers?limit=1&cursor={cursor}"), 400, "Invalid cursor")


def test_cursor_round_trip_keeps_every_filter():
    since = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt_timezone.utc)
    cursor = Cursor(name="io.github.ä/x", version="1.0.0+b1", updated_at=since + timedelta(seconds=1),
                    filters=ListFilters(search="we", version="latest", updated_since=since, include_deleted=True))

    encoded = cursor_encode(cursor)

    assert CURSOR_ALPHABET.match(encoded)
    assert cursor_decode(encoded) == cursor


@pytest.mark.parametrize("limit", [1, 30, 50, 100])
def test_accepted_limits(client, catalog, limit):
    page = body(client.get(f"/v0.1/servers?limit={limit}"))
    assert page["metadata"]["count"] == min(limit, 4)
    assert ("nextCursor" in page["metadata"]) == (limit < 4)


def test_default_limit_is_30(client):
    for index in range(31):
        make_server(f"io.github.many/s{index:03d}")

    page = body(client.get("/v0.1/servers"))

    assert page["metadata"]["count"] == 30 and "nextCursor" in page["metadata"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "1.0", "%201", "1%20", "1_0", "%D9%A1"])
def test_bad_limit_is_422_with_the_parameter_error(client, limit):
    problem = assert_problem(client.get(f"/v0.1/servers?limit={limit}"), 422, "validation failed")
    assert problem["errors"][0]["location"] == "query.limit"
    assert problem["errors"][0]["value"] == unquote(limit)


# --- updated_since, include_deleted and tombstones -----------------------------------------------

@pytest.mark.parametrize("since", [
    "2020-01-01T00:00:00Z", "2020-01-01T00:00:00.123Z", "2020-01-01T00:00:00.123456789Z",
    "2020-01-01T00:00:00%2B00:00", "2020-01-01T00:00:00.123456%2B00:00", "2020-01-01T02:00:00%2B02:00",
    "2020-01-01T00:00:00+00:00",  # an unencoded `+`, decoded to a space
])
def test_updated_since_accepts_rfc3339_forms(client, since):
    make_server(WEATHER)
    assert body(client.get(f"/v0.1/servers?updated_since={since}"))["metadata"]["count"] == 1


@pytest.mark.parametrize("since", ["yesterday", "2020-01-01", "2020-01-01 00:00:00Z", "2020-01-01T00:00:00",
                                   "2020-13-01T00:00:00Z", "1700000000"])
def test_bad_updated_since_is_400(client, since):
    problem = assert_problem(
        client.get(f"/v0.1/servers?updated_since={quote(since)}"), 400,
        "Invalid updated_since format: expected RFC3339 timestamp (e.g., 2025-08-07T13:15:04.280Z)",
    )
    assert problem["errors"][0]["location"] == "query.updated_since"


def test_updated_since_is_strictly_after(client):
    make_server(WEATHER)
    updated_at = body(client.get("/v0.1/servers"))["servers"][0]["_meta"][OFFICIAL]["updatedAt"]

    assert body(client.get(f"/v0.1/servers?updated_since={updated_at}"))["servers"] == []


@pytest.mark.parametrize("sync_filter", ["updated_since=SINCE", "include_deleted=true"])
def test_a_sync_walk_misses_no_change_made_while_it_runs(client, sync_filter):
    """mcpreg pulls everything (`include_deleted=true`), then what changed (`updated_since`), each time taking
    its next mark from the highest `updatedAt` of the walk. So a change to a name the walk has passed must come
    later in it: pages that include tombstones run in `updatedAt` order."""
    query = sync_filter.replace("SINCE", quote(timezone.now().isoformat()))
    alpha = make_server("io.github.acme/alpha")
    make_server("io.github.acme/zulu")
    first = body(client.get(f"/v0.1/servers?{query}&limit=1"))
    set_server_state(alpha, CurationState.BLOCKED)  # behind the walk…
    make_server("io.github.acme/zulu-two")  # …then ahead of it

    rest = walk(client, f"?limit=1&{query}&cursor={first['metadata']['nextCursor']}")

    assert [(entry["server"]["name"], entry["_meta"][OFFICIAL]["status"]) for page in [first, *rest]
            for entry in page["servers"]] == [
        ("io.github.acme/alpha", "active"), ("io.github.acme/zulu", "active"),
        ("io.github.acme/alpha", "deleted"), ("io.github.acme/zulu-two", "active")]


def test_include_deleted_false_with_updated_since_is_400(client):
    assert_problem(
        client.get("/v0.1/servers?updated_since=2020-01-01T00:00:00Z&include_deleted=false"), 400,
        "Cannot set include_deleted=false when using updated_since (incremental sync requires deleted servers)",
    )


@pytest.mark.parametrize("url", ["/v0.1/servers?include_deleted=maybe",
                                 f"/v0.1/servers/{path_name(WEATHER)}/versions?include_deleted=2",
                                 f"/v0.1/servers/{path_name(WEATHER)}/versions/latest?include_deleted=x",
                                 "/v0.1/servers?include_deleted=yes", "/v0.1/servers?include_deleted=on",
                                 f"/v0.1/servers/{path_name(WEATHER)}/versions?include_deleted=Y",
                                 f"/v0.1/servers/{path_name(WEATHER)}/versions/latest?include_deleted=off"])
def test_non_boolean_include_deleted_is_422(client, url):
    problem = assert_problem(client.get(url), 422)
    assert problem["errors"][0]["location"] == "query.include_deleted"


@pytest.mark.parametrize("value, tombstones", [
    *((value, True) for value in ("1", "t", "T", "TRUE", "true", "True")),
    *((value, False) for value in ("0", "f", "F", "FALSE", "false", "False")),
])
def test_include_deleted_takes_what_go_parses_as_a_boolean(client, value, tombstones):
    set_server_state(make_server(WEATHER), CurationState.BLOCKED)

    assert len(body(client.get(f"/v0.1/servers?include_deleted={value}"))["servers"]) == tombstones
    lookup = client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/1.0.0?include_deleted={value}")
    assert lookup.status_code == (200 if tombstones else 404)


def test_withdrawn_versions_are_tombstones_only_for_incremental_consumers(client):
    server = make_server(WEATHER, ("1.0.0", "2.0.0"))
    before = timezone.now() - timedelta(seconds=1)
    set_server_state(server, CurationState.BLOCKED)
    withdrawn_at = Listing.objects.get(name=WEATHER, version_string="1.0.0").withdrawn_at

    assert body(client.get("/v0.1/servers"))["servers"] == []
    assert body(client.get("/v0.1/servers?include_deleted=false"))["servers"] == []
    assert_problem(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions"), 404)
    assert_problem(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/latest"), 404)
    since = before.isoformat().replace("+", "%2B")
    for url in (f"/v0.1/servers?updated_since={since}", "/v0.1/servers?include_deleted=true",
                f"/v0.1/servers/{path_name(WEATHER)}/versions?include_deleted=true"):
        entries = body(client.get(url))["servers"]
        assert sorted(e["server"]["version"] for e in entries) == ["1.0.0", "2.0.0"]
        for entry in entries:
            official = entry["_meta"][OFFICIAL]
            assert official["status"] == "deleted"
            assert official["updatedAt"] == official["statusChangedAt"]
            assert datetime.fromisoformat(official["updatedAt"]) == withdrawn_at
    tombstone = client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/1.0.0?include_deleted=true")
    assert body(tombstone)["_meta"][OFFICIAL]["status"] == "deleted"


def test_when_every_version_is_withdrawn_the_latest_tombstone_keeps_is_latest(client):
    server = make_server(WEATHER, ("1.0.0", "2.0.0", "1.5.0"))
    make_server("io.github.acme/other", ("3.0.0",))
    set_server_state(server, CurationState.BLOCKED)
    latest_url = f"/v0.1/servers/{path_name(WEATHER)}/versions/latest"

    latest = body(client.get(f"{latest_url}?include_deleted=true"))
    versions = body(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions?include_deleted=true"))["servers"]
    one_per_server = body(client.get("/v0.1/servers?version=latest&include_deleted=true"))["servers"]

    assert (latest["server"]["version"], latest["_meta"][OFFICIAL]["status"]) == ("2.0.0", "deleted")
    assert latest["_meta"][OFFICIAL]["isLatest"] is True
    assert [(e["server"]["version"], e["_meta"][OFFICIAL]["isLatest"]) for e in versions] == [
        ("1.5.0", False), ("2.0.0", True), ("1.0.0", False)]
    assert served_pairs([{"servers": one_per_server}]) == [("io.github.acme/other", "3.0.0"), (WEATHER, "2.0.0")]
    assert_problem(client.get(latest_url), 404)
    assert served_pairs([body(client.get("/v0.1/servers?version=latest"))]) == [("io.github.acme/other", "3.0.0")]


def test_a_tombstone_is_not_latest_while_a_version_is_served(client):
    server = make_server(WEATHER, ("1.0.0", "2.0.0"))
    VersionCuration.objects.create(version=server.versions.get(version="2.0.0"), state=CurationState.BLOCKED)
    listing_refresh(server_ids=[server.id])

    entries = body(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions?include_deleted=true"))["servers"]
    latest = body(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/latest?include_deleted=true"))

    assert [(e["server"]["version"], e["_meta"][OFFICIAL]["status"], e["_meta"][OFFICIAL]["isLatest"])
            for e in entries] == [("2.0.0", "deleted", False), ("1.0.0", "active", True)]
    assert latest["server"]["version"] == "1.0.0"


def test_the_latest_flag_moving_onto_a_tombstone_reaches_incremental_consumers(client):
    server = make_server(WEATHER, ("1.0.0", "2.0.0"))
    VersionCuration.objects.create(version=server.versions.get(version="2.0.0"), state=CurationState.BLOCKED)
    listing_refresh(server_ids=[server.id])
    mark = max(entry["_meta"][OFFICIAL]["updatedAt"]
               for entry in body(client.get("/v0.1/servers?include_deleted=true"))["servers"])

    set_server_state(server, CurationState.BLOCKED)

    changed = body(client.get(f"/v0.1/servers?updated_since={mark}"))["servers"]
    assert [(e["server"]["version"], e["_meta"][OFFICIAL]["isLatest"]) for e in changed] == [
        ("1.0.0", False), ("2.0.0", True)]


def test_never_served_versions_have_no_tombstone(client):
    make_server(WEATHER, state=CurationState.PENDING)

    assert body(client.get("/v0.1/servers?include_deleted=true"))["servers"] == []
    assert body(client.get("/v0.1/servers?updated_since=2000-01-01T00:00:00Z"))["servers"] == []


def test_upstream_deletion_of_a_served_version_becomes_a_tombstone_with_its_message(client):
    server = make_server(WEATHER, ("1.0.0", "2.0.0"))
    ServerVersion.objects.filter(server=server, version="2.0.0").update(
        status=UpstreamStatus.DELETED, status_message="malware", changed_at=timezone.now())
    listing_refresh(server_ids=[server.id])

    entries = body(client.get("/v0.1/servers?include_deleted=true"))["servers"]
    latest = body(client.get(f"/v0.1/servers/{path_name(WEATHER)}/versions/latest"))

    assert [(e["server"]["version"], e["_meta"][OFFICIAL]["status"]) for e in entries] == [
        ("1.0.0", "active"), ("2.0.0", "deleted")]
    assert entries[1]["_meta"][OFFICIAL]["statusMessage"] == "malware"
    assert "statusMessage" not in entries[0]["_meta"][OFFICIAL]
    assert latest["server"]["version"] == "1.0.0" and latest["_meta"][OFFICIAL]["isLatest"] is True


# --- names and paths ------------------------------------------------------------------------------

@pytest.mark.parametrize("name_in_path", [
    "io.github.acme%2Fweather", "io.github.acme%252Fweather", "io.github.acme/weather", "io.github.acme%2fweather",
])
@pytest.mark.parametrize("suffix", ["/versions", "/versions/", "/versions/latest", "/versions/latest/",
                                    "/versions/1.0.0%2Bb1", "/versions/1.0.0+b1", "/versions/1.0.0%252Bb1"])
def test_names_and_versions_resolve_however_encoded(client, name_in_path, suffix):
    make_server(WEATHER, ("1.0.0+b1",))

    response = client.get(f"/v0.1/servers/{name_in_path}{suffix}")

    assert response.status_code == 200, response.content
    entry = body(response)["servers"][0] if "servers" in body(response) else body(response)
    assert entry["server"]["name"] == WEATHER and entry["server"]["version"] == "1.0.0+b1"


@pytest.mark.parametrize("name", ["io.github.acme/versions", WEATHER])
@pytest.mark.parametrize("encoded", ["%2F", "%252F", "/"])
def test_the_path_splits_on_the_last_versions_that_leaves_a_server_name(client, name, encoded):
    make_server(name, ("1.0.0", "versions"))
    base = f"/v0.1/servers/{name.replace('/', encoded)}/versions"

    for suffix in ("", "/"):
        listed = body(client.get(f"{base}{suffix}"))["servers"]
        assert sorted(served_pairs([{"servers": listed}])) == [(name, "1.0.0"), (name, "versions")]
    for suffix, version in (("/latest", "1.0.0"), ("/versions", "versions"), ("/versions/", "versions"),
                            ("/1.0.0", "1.0.0")):
        entry = body(client.get(f"{base}{suffix}"))
        assert (entry["server"]["name"], entry["server"]["version"]) == (name, version), suffix


def test_list_tolerates_a_trailing_slash(client, catalog):
    assert body(client.get("/v0.1/servers/?limit=1"))["metadata"]["count"] == 1


def get_path_as_sent(client, path, query=""):
    """A request for `path` exactly as sent: the test client would read a leading `//` as a host."""
    return client.get("/", PATH_INFO=unquote(path), QUERY_STRING=query)


@pytest.mark.parametrize("path", ["//v0.1/servers", "/v0.1//servers", "//v0/servers/", "///v0.1///servers"])
def test_repeated_slashes_read_as_one(client, catalog, path):
    assert body(get_path_as_sent(client, path, "limit=1"))["metadata"]["count"] == 1


def test_repeated_slashes_reach_lookups(client, catalog):
    for path in (f"//v0.1/servers/{path_name(WEATHER)}/versions/latest",
                 f"/v0.1/servers//{path_name(WEATHER)}//versions//2.0.0/"):
        assert body(get_path_as_sent(client, path))["server"]["version"] == "2.0.0"
    assert len(body(get_path_as_sent(client, f"//v0.1/servers/{path_name(WEATHER)}/versions"))["servers"]) == 3
    assert_problem(get_path_as_sent(client, "//v0.1//nothing"), 404,
                   "Endpoint not found. See /docs for the API documentation.")


@override_settings(ROOT_URLCONF="tests.api.prefixed_urls")
def test_repeated_slashes_under_a_path_prefix(client, catalog):
    assert body(get_path_as_sent(client, "/registry//v0.1/servers", "limit=1"))["metadata"]["count"] == 1
    latest = get_path_as_sent(client, f"/registry//v0.1/servers/{path_name(WEATHER)}/versions/latest")
    assert body(latest)["server"]["version"] == "2.0.0"


def test_name_lookup_is_exact(client, catalog):
    assert_problem(client.get("/v0.1/servers/io.github.acme%2FWEATHER/versions/latest"), 404)
    assert_problem(client.get("/v0.1/servers/io.github.acme%2Fweath/versions/latest"), 404)


@pytest.mark.parametrize("url", ["/v0.1/nope", "/v0/nope", "/v0.1/servers/x/y/z", "/v0.1/servers/a%2Fb",
                                 "/v0.1", "/v0.1/", "/v0.1/servers/a%2Fb/versions/1/extra"])
def test_unknown_routes_under_the_api_are_404_problems(client, url):
    response = client.get(url)
    assert_problem(response, 404, "Endpoint not found. See /docs for the API documentation.")
    assert_cors(response)


def test_nul_bytes_are_400(client, catalog):
    for url in ("/v0.1/servers?search=a%00b", f"/v0.1/servers/{path_name(WEATHER)}%00/versions"):
        response = client.get(url)
        assert_problem(response, 400)
        assert_cors(response)


@pytest.mark.parametrize("url", [
    "/v0.1/servers/io.github.acme%252Fweather%2500/versions",
    "/v0.1/servers/io.github.acme%252Fweather%2500/versions/latest",
    "/v0.1/servers/io.github.acme%252Fweather/versions/1.0.0%2500",
    "/v0.1/servers/io.github.acme/weather/versions/1.0.0%2500",
])
def test_double_encoded_nul_bytes_in_the_path_are_400(url, catalog):
    """The path is decoded a second time (for `%252F`), which can only then reveal a NUL byte."""
    response = Client(raise_request_exception=False).get(url)
    assert_problem(response, 400, "Invalid request: NUL bytes are not allowed in the path or query")
    assert_cors(response)


def test_write_methods_are_405_problems(client, catalog):
    response = client.post("/v0.1/servers", data={}, content_type="application/json")
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_v0_answers_like_v01(client, catalog):
    for path in ("/servers?limit=2", f"/servers/{path_name(WEATHER)}/versions", f"/servers/{path_name(WEATHER)}/versions/latest", "/ping"):
        assert client.get(f"/v0{path}").content == client.get(f"/v0.1{path}").content


@override_settings(ROOT_URLCONF="tests.api.prefixed_urls")
def test_the_api_works_under_a_path_prefix(client, catalog):
    pages = walk(client, "?limit=3&version=latest", prefix="/registry/v0.1/servers")
    assert served_pairs(pages) == [("io.github.acme/Mail-Server", "0.1.0"), (WEATHER, "2.0.0")]
    assert body(client.get(f"/registry/v0/servers/{path_name(WEATHER)}/versions/1.0.0"))["server"]["version"] == "1.0.0"
    assert_problem(client.get("/registry/v0.1/nothing"), 404, "Endpoint not found. See /docs for the API documentation.")
    assert client.get("/registry/openapi.json").status_code == 200
    assert client.get("/registry/docs").status_code == 200


@pytest.mark.parametrize("url", ["/registry/v0.1/broken", "/registry/v0.1/broken-api"])
@override_settings(ROOT_URLCONF="tests.api.prefixed_urls")
def test_a_crash_is_a_problem_not_an_html_page(url, caplog):
    client = Client(raise_request_exception=False)
    response = client.get(url)
    assert_problem(response, 500)
    assert_cors(response)
    assert "boom" in caplog.text  # logged with its traceback, as Django logs any crash


def test_api_requests_skip_the_browser_middleware_but_keep_security_headers(client, catalog, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    response = client.get("/v0.1/servers")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    assert response["Content-Length"] == str(len(response.content))
    assert "Cookie" not in response.get("Vary", "")  # no session, auth or CSRF middleware
    assert not response.cookies


def test_a_host_outside_allowed_hosts_is_a_400_problem(client, catalog):
    response = client.get("/v0.1/servers", HTTP_HOST="attacker.example")
    assert_problem(response, 400, "Bad Request")
    assert_cors(response)


def test_a_catalog_page_whose_name_has_a_v0_segment_goes_through_the_full_stack(client):
    make_server("io.github.acme/v0")
    response = client.get("/servers/io.github.acme/v0/")
    assert response.status_code == 200
    assert "io.github.acme/v0" in response.content.decode()


# --- meta endpoints -------------------------------------------------------------------------------

def test_health_ping_version(client, settings):
    settings.REGISTRY_VERSION, settings.REGISTRY_GIT_COMMIT, settings.REGISTRY_BUILD_TIME = "1.2.3", "abc", "now"
    assert body(client.get("/v0.1/health")) == {"status": "ok"}
    assert body(client.get("/v0.1/ping")) == {"pong": True}
    assert body(client.get("/v0.1/version")) == {"version": "1.2.3", "git_commit": "abc", "build_time": "now"}


# --- HTTP behaviour: CORS, anonymity, caching, content types --------------------------------------

def test_cors_on_every_kind_of_response(client, catalog):
    urls = ["/v0.1/servers", "/v0.1/servers?limit=0", "/v0.1/servers?cursor=bad",
            "/v0.1/servers/x%2Fy/versions/latest", "/v0.1/missing", "/v0/ping"]
    for url in urls:
        assert_cors(client.get(url))


def test_preflight_is_204_with_cors(client):
    response = client.options("/v0.1/servers", HTTP_ORIGIN="https://vscode.dev",
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert response.status_code == 204
    assert_cors(response)


def test_reads_are_anonymous_and_need_no_csrf(catalog):
    client = Client(enforce_csrf_checks=True)
    response = client.get("/v0.1/servers", HTTP_AUTHORIZATION="Bearer whatever", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_etag_and_conditional_get(client, catalog, settings):
    settings.REGISTRY_CACHE_MAX_AGE = 42
    url = f"/v0.1/servers/{path_name(WEATHER)}/versions/latest"
    first = client.get(url)
    etag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first["Cache-Control"] == "public, max-age=42"

    not_modified = client.get(url, HTTP_IF_NONE_MATCH=etag)
    weak = client.get(url, HTTP_IF_NONE_MATCH=f'"other", W/{etag}')
    changed = client.get(url, HTTP_IF_NONE_MATCH='"stale"')

    for response in (not_modified, weak):
        assert response.status_code == 304 and response.content == b""
        assert "Content-Length" not in response  # RFC 9110 §8.6
        assert response["ETag"] == etag
        assert_cors(response)
    assert changed.status_code == 200 and changed["ETag"] == etag
    assert changed["Content-Length"] == str(len(changed.content))


def test_etag_follows_the_body(client, catalog):
    before = client.get("/v0.1/servers")["ETag"]
    make_server("io.github.acme/new")
    assert client.get("/v0.1/servers")["ETag"] != before
    assert client.get("/v0.1/servers?limit=1")["ETag"] != client.get("/v0.1/servers?limit=2")["ETag"]


def test_errors_carry_no_etag(client):
    assert "ETag" not in client.get("/v0.1/servers?limit=0")


# --- cost -----------------------------------------------------------------------------------------

def test_repeated_lookups_run_as_a_prepared_statement(client, catalog):
    for _ in range(6):  # psycopg prepares a statement on its sixth run (prepare_threshold = 5)
        assert client.get(f"/v0.1/servers/{quote(WEATHER, safe='')}/versions/latest").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%curation_listing%"])
        assert cursor.fetchone()[0] == 1


@pytest.mark.parametrize("limit", [1, 100])
def test_queries_per_request_do_not_grow_with_limit_or_depth(client, django_assert_max_num_queries, limit):
    for index in range(60):
        make_server(f"io.github.many/s{index:03d}", ("1.0.0", "2.0.0"))
    cursor = body(client.get("/v0.1/servers?limit=90"))["metadata"]["nextCursor"]
    urls = [f"/v0.1/servers?limit={limit}", f"/v0.1/servers?limit={limit}&cursor={cursor}",
            f"/v0.1/servers?limit={limit}&version=latest&search=s0&updated_since=2000-01-01T00:00:00Z",
            "/v0.1/servers/io.github.many%2Fs001/versions", "/v0.1/servers/io.github.many%2Fs001/versions/latest"]
    for url in urls:
        with django_assert_max_num_queries(1):
            assert client.get(url).status_code == 200
