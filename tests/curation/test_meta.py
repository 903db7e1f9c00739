from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

import curation
from curation.meta import _schema_validator, meta_schema_check, meta_validate

EXAMPLE_SCHEMA = Path(curation.__file__).parent / "meta_schema.example.json"
VALID = {
    "owningTeam": "Payments platform",
    "dataClassification": "confidential",
    "approvedUse": "Read-only queries against the staging ledger",
    "internalDocsUrl": "https://wiki.example.com/mcp/ledger",
    "reviewTicket": "SEC-1234",
}


def messages(meta) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        meta_validate(meta)
    return caught.value.messages


@pytest.fixture
def example_schema(settings):
    _schema_validator.cache_clear()
    settings.REGISTRY_META_SCHEMA = str(EXAMPLE_SCHEMA)
    yield
    _schema_validator.cache_clear()


@pytest.mark.parametrize("meta, fragment", [
    ([1, 2], "must be a JSON object"),
    ("text", "must be a JSON object"),
    ({"note": "x" * 17_000}, "the limit is 16384 bytes"),
    ({"when": {1, 2}}, "not representable as JSON"),
    ({"ratio": float("nan")}, "not representable as JSON"),
    ({"io.modelcontextprotocol.registry/official": {"status": "active"}}, "upstream registry's namespace"),
    ({"nested": [{"io.modelcontextprotocol.registry/publisher-provided": 1}]},
     "“nested/0/io.modelcontextprotocol.registry/publisher-provided”"),
    ({"approvedBy": "mallory"}, "written by the registry itself"),
    ({"curationState": "approved"}, "written by the registry itself"),
])
def test_refused_without_a_schema(meta, fragment):
    assert any(fragment in message for message in messages(meta))


def test_accepted_without_a_schema_including_reserved_names_below_the_top_level():
    meta = {"review": {"approvedBy": "the security board"}, "com.example/extra": [1, None, "x"]}
    assert meta_validate(meta) is meta
    assert meta_validate({}) == {}


def nested(depth: int) -> dict:
    meta = inner = {}
    for _ in range(depth - 1):
        inner["a"] = inner = {}
    return meta


def test_nesting_is_limited_without_recursing():
    assert meta_validate(nested(32)) and meta_validate({"list": [[[]]]})
    assert messages(nested(33)) == ["Metadata nests 33 levels deep; the limit is 32."]
    assert messages(nested(5000)) == ["Metadata nests 5000 levels deep; the limit is 32."]


def test_size_limit_counts_utf8_bytes():
    assert meta_validate({"n": "é" * 8_000})  # 16,000 bytes + overhead < 16 KB
    assert any("16 KB" in message for message in messages({"n": "é" * 8_200}))


def test_every_problem_is_reported_at_once():
    found = messages({"approvedAt": "now", "io.modelcontextprotocol.registry/x": 1})
    assert len(found) == 2


def test_the_example_schema_accepts_a_complete_object(example_schema):
    assert meta_validate(VALID) == VALID
    assert meta_validate({"owningTeam": "t", "dataClassification": "public"})


@pytest.mark.parametrize("change, fragment", [
    ({"dataClassification": "top-secret"}, "Schema: dataClassification: 'top-secret' is not one of"),
    ({"internalDocsUrl": "not a url"}, "Schema: internalDocsUrl:"),
    ({"internalDocsUrl": "http://wiki.example.com"}, "does not match '^https://'"),
    ({"reviewTicket": "sec 12"}, "Schema: reviewTicket:"),
    ({"owningTeam": None}, "Schema: owningTeam: None is not of type 'string'"),
    ({"surprise": 1}, "Additional properties are not allowed"),
])
def test_the_example_schema_refuses_bad_values(example_schema, change, fragment):
    found = messages({**VALID, **change})
    assert any(fragment in message for message in found), found


def test_missing_required_keys_are_named(example_schema):
    assert messages({"owningTeam": "t"}) == ["Schema: (top level): 'dataClassification' is a required property"]


def test_the_validator_is_built_once(example_schema):
    for _ in range(3):
        meta_validate(VALID)
    assert _schema_validator.cache_info().misses == 1


def test_an_unusable_schema_setting_fails_the_system_check(settings, tmp_path):
    _schema_validator.cache_clear()
    settings.REGISTRY_META_SCHEMA = str(tmp_path / "absent.json")
    assert [error.id for error in meta_schema_check(None)] == ["curation.E001"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": 7}')
    settings.REGISTRY_META_SCHEMA = str(broken)
    assert "not a valid JSON Schema" in meta_schema_check(None)[0].msg
    settings.REGISTRY_META_SCHEMA = str(EXAMPLE_SCHEMA)
    assert meta_schema_check(None) == []
    _schema_validator.cache_clear()
