import json

import httpx
import pytest
from jsonschema import Draft7Validator, FormatChecker

from mirror.choices import SyncOutcome
from mirror.models import SchemaDocument, ServerVersion
from mirror.services import sync_run_execute
from mirror import validation
from mirror.validation import SERVER_NAME_PATTERN, SchemaUnavailable, schema_compile
from tests.integration.upstream_double import SCHEMA_2025_12_11
from tests.mirror.conftest import RETRY_ATTEMPTS, T0

SCHEMA_2025_09_29 = "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json"


def test_compiled_and_precise_validators_agree_on_the_legacy_seed(shared_file):
    """jsonschema-rs decides, jsonschema explains: both must reach the same verdict (143 of 358 invalid)."""
    schema_text = shared_file("server.schema.2025-09-29.json").read_text()
    documents = json.loads(shared_file("seed-legacy-2025-09-29.json").read_text())
    compiled = schema_compile(SCHEMA_2025_09_29, schema_text)
    reference = Draft7Validator(json.loads(schema_text), format_checker=FormatChecker())

    verdicts = [compiled.is_valid(document) for document in documents]

    assert verdicts == [reference.is_valid(document) for document in documents]
    assert (len(documents), verdicts.count(False)) == (358, 143)
    for document, valid in zip(documents, verdicts):
        if not valid:
            assert compiled.reason(document).startswith("description: ")


def test_uri_format_is_checked(schema_text):
    compiled = schema_compile(SCHEMA_2025_12_11, schema_text)
    document = {"name": "io.github.a/b", "description": "d", "version": "1.0.0",
                "repository": {"url": "https://github.com/a/b", "source": "github"}}
    assert compiled.is_valid(document)

    document["repository"]["url"] = "github.com/a/b"
    assert not compiled.is_valid(document)
    assert compiled.reason(document) == "repository/url: 'github.com/a/b' is not a 'uri'"


@pytest.mark.parametrize("url", [
    "https://github.com/a/b", "github.com/a/b", "mailto:a@b.c", "urn:isbn:123", "file:///tmp/x", "HTTP://X.COM",
    "http://[::1]:80/", "https://ex.com/a?b=c#d", "a:", "", "://x", "1http://x", "https://a b.com",
    "https://ex.com/ü", "https://ex.com/%zz", "http://ex.com/<>", "http://[fe80::1%25eth0]/",
])
def test_both_validators_read_uri_format_alike(schema_text, url):
    """The decider (jsonschema-rs's RFC 3986 check) and the explainer (jsonschema's) agree on edge cases."""
    compiled = schema_compile(SCHEMA_2025_12_11, schema_text)
    document = {"name": "io.github.a/b", "description": "d", "version": "1.0.0",
                "repository": {"url": url, "source": "github"}}
    explainer = Draft7Validator(json.loads(schema_text), format_checker=FormatChecker())

    assert compiled.is_valid(document) == explainer.is_valid(document)


def test_refs_never_leave_the_schema_document():
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "$id": "https://static.example/s.json",
              "$ref": "https://elsewhere.example/other.json#/definitions/X"}
    with pytest.raises(SchemaUnavailable, match="remote \\$ref"):
        schema_compile("https://static.example/s.json", json.dumps(schema))


def test_a_document_that_is_not_the_schema_is_refused():
    with pytest.raises(SchemaUnavailable, match="not the JSON Schema"):
        schema_compile(SCHEMA_2025_12_11, json.dumps({"$id": "https://static.example/other.json"}))
    with pytest.raises(SchemaUnavailable, match="not JSON"):
        schema_compile(SCHEMA_2025_12_11, "<html>")


@pytest.mark.django_db
def test_the_schema_is_fetched_once_then_read_from_the_database(upstream, router):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    assert router["schema"].call_count == 1
    cached = SchemaDocument.objects.get()
    assert cached.url == SCHEMA_2025_12_11 and json.loads(cached.body)["$id"] == SCHEMA_2025_12_11

    router["schema"].respond(503)
    upstream.publish("io.github.a/one", "1.1.0", description="changed, so validated again")
    run = sync_run_execute(full=True)

    assert run.outcome == SyncOutcome.SUCCEEDED and run.created == 1
    assert router["schema"].call_count == 1


@pytest.mark.django_db
def test_a_schema_that_cannot_be_fetched_fails_the_run_and_stores_nothing(upstream, router):
    router["schema"].respond(503)
    upstream.publish("io.github.a/one", "1.0.0")

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.FAILED
    assert f"the server.json schema {SCHEMA_2025_12_11} is not cached and could not be fetched" in run.error
    assert router["schema"].call_count == RETRY_ATTEMPTS
    assert not ServerVersion.objects.exists() and not SchemaDocument.objects.exists()


@pytest.mark.django_db
def test_garbage_at_the_schema_url_is_not_cached(upstream, router):
    router["schema"].respond(200, json={"$id": "https://static.modelcontextprotocol.io/schemas/other.json"})
    upstream.publish("io.github.a/one", "1.0.0")

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.FAILED and "is not the JSON Schema" in run.error
    assert not SchemaDocument.objects.exists()


@pytest.mark.django_db
def test_an_entry_naming_another_official_schema_is_checked_against_it(upstream, router, shared_file):
    legacy = router.get(SCHEMA_2025_09_29).respond(200, text=shared_file("server.schema.2025-09-29.json").read_text())
    documents = json.loads(shared_file("seed-legacy-2025-09-29.json").read_text())[:40]
    for document in documents:
        upstream.registry.publish({"$schema": SCHEMA_2025_09_29, **document}, at=T0)

    run = sync_run_execute()

    reference = Draft7Validator(json.loads(shared_file("server.schema.2025-09-29.json").read_text()),
                                format_checker=FormatChecker())
    invalid = sum(not reference.is_valid(document) for document in documents)
    assert invalid > 0 and (run.rejected, run.created) == (invalid, 40 - invalid)
    assert legacy.call_count == 1 and router["schema"].call_count == 0


FUTURE_SCHEMA = "https://static.modelcontextprotocol.io/schemas/2099-01-01/server.schema.json"


@pytest.mark.django_db
@pytest.mark.parametrize("answer, reason", [
    (httpx.Response(404), "upstream answered HTTP 404"),
    (httpx.Response(403, text="AccessDenied"), "upstream answered HTTP 403"),
    (httpx.Response(410), "upstream answered HTTP 410"),
    (httpx.Response(200, json={"$id": "https://raw.githubusercontent.com/x/draft/server.schema.json"}),
     f"the document at {FUTURE_SCHEMA} is not the JSON Schema with $id {FUTURE_SCHEMA}"),
], ids=["404", "403", "410", "another-schema"])
def test_an_unknown_official_schema_rejects_only_its_entries(upstream, router, answer, reason):
    router.get(FUTURE_SCHEMA).mock(return_value=answer)
    upstream.publish("io.github.a/future", "1.0.0", **{"$schema": FUTURE_SCHEMA})
    upstream.publish("io.github.a/today", "1.0.0")

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.SUCCEEDED and (run.created, run.rejected) == (1, 1)
    assert run.rejections[0]["reason"] == f"$schema {FUTURE_SCHEMA} is unknown: {reason}"
    assert not SchemaDocument.objects.filter(url=FUTURE_SCHEMA).exists()


@pytest.mark.django_db
def test_a_schema_an_entry_names_that_is_down_fails_the_run_to_be_asked_again(upstream, router):
    router.get(FUTURE_SCHEMA).respond(503)
    upstream.publish("io.github.a/future", "1.0.0", **{"$schema": FUTURE_SCHEMA})

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.FAILED and "HTTP 503" in run.error and not ServerVersion.objects.exists()


@pytest.mark.django_db
def test_the_default_schema_missing_fails_the_run_instead_of_rejecting_everything(upstream, router):
    router["schema"].respond(404)
    upstream.publish("io.github.a/one", "1.0.0")

    run = sync_run_execute()

    assert run.outcome == SyncOutcome.FAILED and "HTTP 404" in run.error
    assert (run.rejected, ServerVersion.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_the_default_schema_url_is_a_setting(upstream, router, settings, shared_file):
    settings.MIRROR_SERVER_SCHEMA_URL = SCHEMA_2025_09_29
    router.get(SCHEMA_2025_09_29).respond(200, text=shared_file("server.schema.2025-09-29.json").read_text())
    documents = json.loads(shared_file("seed-legacy-2025-09-29.json").read_text())
    for document in documents:
        upstream.registry.publish(document, at=T0)

    run = sync_run_execute()

    # The legacy seed has no $schema: every entry is checked against the configured one.
    assert (run.created, run.rejected, run.pages) == (215, 143, 4)
    assert len(run.rejections) == 143


@pytest.mark.django_db
def test_an_unchanged_entry_is_not_validated_again(upstream, monkeypatch):
    upstream.publish("io.github.a/one", "1.0.0")
    sync_run_execute()
    checked = []
    original = validation.ServerJsonValidator.problem
    monkeypatch.setattr(validation.ServerJsonValidator, "problem",
                        lambda self, server: checked.append(server["name"]) or original(self, server))

    upstream.registry.set_status("io.github.a/one", "1.0.0", "deprecated", at=T0)
    run = sync_run_execute(full=True)

    assert run.status_changed == 1 and checked == []


def test_the_server_name_pattern_is_the_official_schemas(schema_text):
    name = json.loads(schema_text)["definitions"]["ServerDetail"]["properties"]["name"]
    assert name["pattern"] == f"^{SERVER_NAME_PATTERN}$"
