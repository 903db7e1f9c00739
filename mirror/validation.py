"""Validation of upstream `server` objects against the official server.json JSON Schema.

The yes/no decision uses jsonschema-rs (compiled once per schema, ~4x faster than
fastjsonschema and ~50x faster than jsonschema on upstream's documents); only a rejected
entry goes through jsonschema's Draft7Validator, for a precise reason. Both check
`format: uri` as RFC 3986 (the tests hold them to the same verdicts); jsonschema-rs's own
check is used because calling back into Python for every URI doubled the validation time.

Schemas are never copied into the project: `MIRROR_SERVER_SCHEMA_URL` names the one for
entries without `$schema`, and an entry may name another official schema under
https://static.modelcontextprotocol.io/schemas/. No other URL from upstream data is ever
fetched, and every `$ref` resolves inside the schema document itself.
"""

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import jsonschema_rs
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

OFFICIAL_SCHEMA_URL = re.compile(
    r"^https://static\.modelcontextprotocol\.io/schemas/[A-Za-z0-9._-]+/server\.schema\.json$"
)
REASON_MAX_CHARS = 500
# server.json's `name` pattern (official schemas since 2025-10-11): a reverse-DNS namespace, `/`, a name.
SERVER_NAME_PATTERN = r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+"

_format_checker = FormatChecker()


class SchemaUnavailable(Exception):
    """A schema the run needs could not be obtained: the run must stop rather than store unchecked data."""


class UnknownSchema(Exception):
    """A schema URL an entry names does not serve that schema (e.g. 403, 404): entries naming it are rejected."""


def _refuse_remote_ref(uri: str):
    raise ValueError(f"remote $ref {uri!r} is not followed")


@dataclass(frozen=True)
class CompiledSchema:
    url: str
    is_valid: Callable[[object], bool]
    reason: Callable[[object], str]


_compiled_by_body: dict[str, CompiledSchema] = {}


def schema_compile(url: str, body: str) -> CompiledSchema:
    """Both validators for one schema text, built once per process."""
    key = hashlib.sha256(f"{url}\n{body}".encode()).hexdigest()
    if key in _compiled_by_body:
        return _compiled_by_body[key]
    try:
        schema = json.loads(body)
    except ValueError as exc:
        raise SchemaUnavailable(f"the schema {url} is not JSON: {exc}") from exc
    if not isinstance(schema, dict) or schema.get("$id", url) != url:
        raise SchemaUnavailable(f"the document at {url} is not the JSON Schema with $id {url}")
    try:
        # Refs resolve against the schema's own $id, which the resolver's store already holds.
        Draft7Validator.check_schema(schema)
        decider = jsonschema_rs.validator_for(
            schema, validate_formats=True, retriever=_refuse_remote_ref
        )
    except Exception as exc:  # jsonschema-rs and jsonschema raise several types for a bad schema
        raise SchemaUnavailable(f"the schema {url} cannot be compiled: {exc}") from exc
    registry = Registry().with_resource(url, Resource.from_contents(schema, default_specification=DRAFT7))
    explainer = Draft7Validator(schema, format_checker=_format_checker, registry=registry)

    def is_valid(document) -> bool:
        try:
            return decider.is_valid(document)
        except ValueError:  # a value jsonschema-rs cannot convert (e.g. a lone UTF-16 surrogate): ask jsonschema
            return next(explainer.iter_errors(document), None) is None

    def reason(document) -> str:
        error = best_match(explainer.iter_errors(document))
        if error is None:
            try:
                decider.validate(document)
            except jsonschema_rs.ValidationError as exc:
                return _truncate(str(exc))
            return "rejected by the schema"
        location = "/".join(str(part) for part in error.absolute_path) or "(root)"
        return _truncate(f"{location}: {error.message}")

    compiled = CompiledSchema(url=url, is_valid=is_valid, reason=reason)
    _compiled_by_body[key] = compiled
    return compiled



def nesting_depth(value: object) -> int:
    """How many objects and arrays deep `value` nests (a scalar is 0), counted without recursing."""
    deepest, pending = 0, [(value, 1)] if isinstance(value, (dict, list)) else []
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest

def _truncate(text: str) -> str:
    return text if len(text) <= REASON_MAX_CHARS else f"{text[: REASON_MAX_CHARS - 1]}…"


class ServerJsonValidator:
    """Checks `server` objects, picking each one's schema; `load_schema(url)` returns a schema's text.

    `load_schema` raises UnknownSchema for a URL that does not serve its schema and SchemaUnavailable
    when the schema cannot be obtained right now.
    """

    def __init__(self, *, default_url: str, load_schema: Callable[[str], str]):
        self.default_url = default_url
        self._load_schema = load_schema
        self._schemas: dict[str, CompiledSchema | str] = {}

    def problem(self, server: object) -> str | None:
        """None when `server` is valid, else why it is not."""
        if not isinstance(server, dict):
            return "`server` is not a JSON object"
        url = server.get("$schema", self.default_url)
        if not isinstance(url, str) or not OFFICIAL_SCHEMA_URL.match(url):
            return f"$schema {str(url)[:200]!r} is not an official server.json schema URL"
        schema = self._schema(url)
        if isinstance(schema, str):
            return schema
        if schema.is_valid(server):
            return None
        return schema.reason(server)

    def _schema(self, url: str) -> CompiledSchema | str:
        if url not in self._schemas:
            try:
                self._schemas[url] = schema_compile(url, self._load_schema(url))
            except UnknownSchema as exc:
                self._schemas[url] = f"$schema {url} is unknown: {exc}"
        return self._schemas[url]
