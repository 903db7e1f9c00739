import logging
import re
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mirror.choices import SyncOutcome
from mirror.models import SchemaDocument, SyncRun
from tests.integration.upstream_double import SCHEMA_2025_12_11
from tests.mirror.conftest import RETRY_ATTEMPTS

SUMMARY = re.compile(
    r"^Full sync succeeded in \d+\.\ds: 1 pages, 2 created, 0 changed, 0 status changed, 0 unchanged, 1 rejected$"
)


def mirror_sync(*args) -> str:
    out = StringIO()
    call_command("mirror_sync", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_command_syncs_and_prints_a_one_line_summary(upstream):
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.a/one", "1.1.0")
    upstream.publish("io.github.b/bad", "1.0.0", description="x" * 101)

    output = mirror_sync()

    assert SUMMARY.match(output.strip()), output
    assert output.count("\n") == 1  # no progress bar when stdout is not a terminal


@pytest.mark.django_db
def test_full_and_upstream_options(upstream, router):
    other = router.get(host="other.test", path="/v0.1/servers").respond(
        200, json={"servers": [], "metadata": {"count": 0}}
    )
    mirror_sync()

    output = mirror_sync("--full", "--upstream", "https://other.test")

    assert output.startswith("Full sync succeeded") and other.call_count == 1
    assert SyncRun.objects.latest().upstream_url == "https://other.test"
    assert mirror_sync().startswith("Incremental sync succeeded")


@pytest.mark.django_db
def test_a_failed_sync_exits_1_with_the_error(upstream):
    upstream.faults.extend([httpx.Response(503)] * RETRY_ATTEMPTS)
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("mirror_sync", stdout=out)

    assert raised.value.returncode == 1
    assert "HTTP 503 Service Unavailable" in str(raised.value)
    assert out.getvalue().startswith("Full sync failed in ")
    assert SyncRun.objects.get().outcome == SyncOutcome.FAILED


@pytest.mark.django_db
def test_a_crashed_sync_exits_1_with_the_summary_and_the_recorded_error(upstream):
    from mirror.signals import mirror_changed

    def explode(sender, **kwargs):
        raise RuntimeError("receiver broke")

    upstream.publish("io.github.a/one", "1.0.0")
    out = StringIO()
    mirror_changed.connect(explode, weak=False, dispatch_uid="test-explode")
    try:
        with pytest.raises(CommandError) as raised:
            call_command("mirror_sync", stdout=out)
    finally:
        mirror_changed.disconnect(dispatch_uid="test-explode")

    assert raised.value.returncode == 1
    assert str(raised.value) == "failed after 0 committed page(s): RuntimeError: receiver broke"
    assert out.getvalue().startswith("Full sync failed in ") and out.getvalue().count("\n") == 1


def test_a_malformed_upstream_url_is_refused_before_anything_runs():
    with pytest.raises(CommandError, match="--upstream must be an http"):
        call_command("mirror_sync", "--upstream", "ftp://nope", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_2_when_another_sync_is_running(upstream, hold_sync_lock):
    with hold_sync_lock():
        with pytest.raises(CommandError) as raised:
            call_command("mirror_sync", stdout=StringIO())

    assert raised.value.returncode == 2
    assert str(raised.value) == "Another mirror sync is running; nothing was done."
    assert not SyncRun.objects.exists()


class Terminal(StringIO):
    def isatty(self):
        return True


@pytest.mark.django_db
def test_a_progress_bar_is_drawn_on_a_terminal(upstream, settings, monkeypatch):
    settings.MIRROR_PAGE_SIZE = 1
    upstream.publish("io.github.a/one", "1.0.0")
    upstream.publish("io.github.b/two", "1.0.0")
    stderr = Terminal()
    monkeypatch.setattr("sys.stderr", stderr)
    out = Terminal()

    call_command("mirror_sync", stdout=out)

    assert "3 pages" in stderr.getvalue() and "created=2" in stderr.getvalue()
    assert out.getvalue().startswith("Full sync succeeded")


@pytest.mark.django_db
def test_log_lines_print_above_the_progress_bar_not_inside_it(upstream, monkeypatch):
    upstream.publish("io.github.a/one", "1.0.0")
    stderr = Terminal()
    monkeypatch.setattr("sys.stderr", stderr)
    console = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    monkeypatch.setattr(console, "stream", stderr)

    call_command("mirror_sync", stdout=Terminal())

    drawn = re.split(r"[\r\n]", stderr.getvalue())
    log_lines = [line for line in drawn if "[mirror.services]" in line]
    assert any("sync_started" in line for line in log_lines)
    assert not any(" pages [" in line for line in log_lines), stderr.getvalue()


@pytest.mark.parametrize("url", ["http://exa mple.com", "https://", "http://upstream:port"])
def test_an_upstream_url_must_be_whole(url):
    with pytest.raises(CommandError, match="--upstream must be an http"):
        call_command("mirror_sync", "--upstream", url, stdout=StringIO())


@pytest.mark.parametrize("url, problem", [
    ("https://user:s3cret@other.test", "must not carry credentials"),
    ("https://token@other.test", "must not carry credentials"),
    ("https://other.test/v0.1", "without the API version"),
    ("https://other.test/v0/", "without the API version"),
    ("https://other.test/?mirror=1", "must not carry a query or fragment"),
    ("https://other.test/#v0.1", "must not carry a query or fragment"),
    ("https://other.test/" + "a" * 500, "longer than 500 characters"),
])
@pytest.mark.django_db
def test_an_upstream_url_the_sync_could_not_use_or_would_leak_is_refused(url, problem):
    with pytest.raises(CommandError, match=problem) as raised:
        call_command("mirror_sync", "--upstream", url, stdout=StringIO())

    assert "s3cret" not in str(raised.value) and not SyncRun.objects.exists()


# --- mirror_schema_load ---------------------------------------------------------------------------

def mirror_schema_load(*paths) -> str:
    out = StringIO()
    call_command("mirror_schema_load", *map(str, paths), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_schema_loaded_from_a_file_spares_the_sync_fetching_it(upstream, router, shared_file):
    path = shared_file("server.schema.2025-12-11.json")

    assert mirror_schema_load(path) == f"{SCHEMA_2025_12_11}: cached\n"
    assert mirror_schema_load(path) == f"{SCHEMA_2025_12_11}: already cached, unchanged\n"
    upstream.publish("io.github.a/one", "1.0.0")

    assert mirror_sync().startswith("Full sync succeeded")
    assert router["schema"].call_count == 0
    assert SchemaDocument.objects.get().body == path.read_text()


@pytest.mark.parametrize("content, problem", [
    ("{not json", "it is not a JSON Schema document with an `$id`"),
    ("[1, 2]", "it is not a JSON Schema document with an `$id`"),
    ('{"type": "object"}', "it has no `$id` string naming the schema's URL"),
    ('{"$id": "https://evil.example/server.schema.json"}', "its $id 'https://evil.example/server.schema.json' is "
                                                          "neither"),
    (f'{{"$id": "{SCHEMA_2025_12_11}", "type": 5}}', "cannot be compiled"),
])
@pytest.mark.django_db
def test_a_file_that_is_not_an_official_schema_is_refused_naming_it(tmp_path, content, problem):
    path = tmp_path / "server.schema.json"
    path.write_text(content)

    with pytest.raises(CommandError, match=re.escape(f"{path}: ") + ".*" + re.escape(problem)):
        mirror_schema_load(path)
    assert not SchemaDocument.objects.exists()


@pytest.mark.django_db
def test_a_missing_schema_file_is_refused_naming_it(tmp_path):
    with pytest.raises(CommandError, match=re.escape(f"{tmp_path / 'absent.json'}: cannot read it")):
        mirror_schema_load(tmp_path / "absent.json")


@pytest.mark.django_db
def test_loading_another_text_for_a_cached_schema_replaces_it(tmp_path, shared_file):
    earlier = tmp_path / "earlier.json"
    earlier.write_text(f'{{"$id": "{SCHEMA_2025_12_11}", "type": "object"}}')
    mirror_schema_load(earlier)

    output = mirror_schema_load(shared_file("server.schema.2025-12-11.json"))

    assert output == f"{SCHEMA_2025_12_11}: cached\n"
    assert SchemaDocument.objects.get().body == shared_file("server.schema.2025-12-11.json").read_text()
