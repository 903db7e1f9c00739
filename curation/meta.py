"""Validation of the organisation `_meta` object curators attach to servers and versions.

The object is served under `_meta[settings.REGISTRY_META_NAMESPACE]`, beside upstream's own
`io.modelcontextprotocol.registry/official` block, merged with the registry's facts. So it must
be a small JSON object that never names upstream's namespace (at any depth, so no client that
searches `_meta` deeply can be fooled) and never sets one of the registry's fact keys (top level,
where the facts live).
"""

import functools
import json
from pathlib import Path

import jsonschema
from jsonschema.protocols import Validator
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, ValidationError

from mirror.validation import nesting_depth

META_MAX_BYTES = 16 * 1024
# Deep enough for any real metadata; far from where serialising it anywhere would exhaust the stack.
META_MAX_DEPTH = 32
UPSTREAM_NAMESPACE_PREFIX = "io.modelcontextprotocol.registry/"
# Written by the registry itself (curation.services.listing_refresh); curators may not set them.
REGISTRY_FACT_KEYS = frozenset({"curationState", "versionCurationState", "approvedBy", "approvedAt"})


@functools.lru_cache(maxsize=4)
def _schema_validator(path: str) -> Validator:
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(f"REGISTRY_META_SCHEMA: cannot read a JSON Schema from {path}: {error}") from error
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ImproperlyConfigured(
            f"REGISTRY_META_SCHEMA: {path} is not a valid JSON Schema: {error.message}"
        ) from error
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _upstream_keys(value, path=()) -> list[str]:
    """Paths of every key, at any depth, that starts with upstream's namespace."""
    found = []
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str) and key.startswith(UPSTREAM_NAMESPACE_PREFIX):
                found.append("/".join((*path, key)))
            found.extend(_upstream_keys(child, (*path, str(key))))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_upstream_keys(child, (*path, str(index))))
    return found


def _nul_paths(value, path=()) -> list[str]:
    """Paths of every key and string, at any depth, holding a NUL character (shown as `\\u0000`)."""
    found = []
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = (*path, str(key).replace("\x00", "\\u0000"))
            if isinstance(key, str) and "\x00" in key:
                found.append("/".join(child_path))
            else:
                found.extend(_nul_paths(child, child_path))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_nul_paths(child, (*path, str(index))))
    elif isinstance(value, str) and "\x00" in value:
        found.append("/".join(path))
    return found


def meta_validate(meta) -> dict:
    """Return `meta` if curators may store it, else raise ValidationError listing every problem."""
    if not isinstance(meta, dict):
        raise ValidationError("Metadata must be a JSON object ({…}), not %(kind)s.", code="not_object",
                              params={"kind": type(meta).__name__})
    depth = nesting_depth(meta)
    if depth > META_MAX_DEPTH:
        raise ValidationError("Metadata nests %(depth)d levels deep; the limit is %(limit)d.", code="too_deep",
                              params={"depth": depth, "limit": META_MAX_DEPTH})
    try:
        encoded = json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise ValidationError("Metadata is not representable as JSON: %(error)s.", code="not_json",
                              params={"error": error}) from None
    # Valid JSON, but PostgreSQL's jsonb (like its text) cannot hold U+0000.
    nul_paths = _nul_paths(meta)
    if nul_paths:
        raise ValidationError("Metadata holds a NUL character (\\u0000), which cannot be stored, at “%(paths)s”.",
                              code="nul_character", params={"paths": "”, “".join(nul_paths)})
    if len(encoded) > META_MAX_BYTES:
        raise ValidationError("Metadata is %(size)d bytes as JSON; the limit is %(limit)d bytes (16 KB).",
                              code="too_large", params={"size": len(encoded), "limit": META_MAX_BYTES})
    errors = []
    for path in _upstream_keys(meta):
        errors.append(ValidationError(
            "Key “%(path)s” is in the upstream registry's namespace (io.modelcontextprotocol.registry/*), "
            "which curators may not write.", code="upstream_namespace", params={"path": path}))
    for key in sorted(REGISTRY_FACT_KEYS & meta.keys()):
        errors.append(ValidationError(
            "Key “%(key)s” is written by the registry itself and cannot be set by curators.",
            code="reserved_key", params={"key": key}))
    if settings.REGISTRY_META_SCHEMA:
        validator = _schema_validator(str(settings.REGISTRY_META_SCHEMA))
        for error in sorted(validator.iter_errors(meta), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
            errors.append(ValidationError("Schema: %(where)s: %(message)s", code="schema",
                                          params={"where": where, "message": error.message}))
    if errors:
        raise ValidationError(errors)
    return meta


@checks.register()
def meta_schema_check(app_configs, **kwargs):
    """Fail at start, not at the first edit, when REGISTRY_META_SCHEMA points at nothing usable."""
    if not settings.REGISTRY_META_SCHEMA:
        return []
    try:
        _schema_validator(str(settings.REGISTRY_META_SCHEMA))
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="curation.E001")]
    return []
