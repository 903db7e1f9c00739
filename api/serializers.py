"""Query-parameter validation for the registry API (bodies are built in `api/rendering.py`)."""

import functools
import re
from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.cursors import Cursor, CursorError, ListFilters, cursor_decode
from api.errors import INCLUDE_DELETED_CONFLICT, INVALID_UPDATED_SINCE, Problem, query_error

DEFAULT_LIMIT = 30
MAX_LIMIT = 100
_EXCESS_FRACTION = re.compile(r"(\.\d{6})\d+")
_GO_INTEGER = re.compile(r"[+-]?[0-9]+")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
# Parameters whose errors are 400 upstream; everything else a client gets wrong is a 422.
_BAD_REQUEST_DETAILS = {"updated_since": INVALID_UPDATED_SINCE, "cursor": "Invalid cursor"}


@extend_schema_field(OpenApiTypes.DATETIME)
class Rfc3339Field(serializers.Field):
    """RFC 3339 as Go's `time.RFC3339` parses it: `T`, seconds, optional fraction, `Z` or an offset."""

    def to_internal_value(self, data):
        text = str(data).strip()
        # An unencoded `+00:00` arrives as ` 00:00` after query-string decoding.
        if len(text) > 6 and text[-6] == " ":
            text = f"{text[:-6]}+{text[-5:]}"
        if not _RFC3339.fullmatch(text):
            self.fail("invalid")
        # Python keeps microseconds; Go would keep nanoseconds, which PostgreSQL cannot store anyway.
        text = _EXCESS_FRACTION.sub(r"\1", text.upper())
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()

    default_error_messages = {"invalid": "expected RFC3339 date-time"}


class GoIntegerField(serializers.IntegerField):
    """An integer as upstream parses it (Go `strconv.ParseInt`): no fraction (`1.0`), no spaces (`%201`)."""

    def to_internal_value(self, data):
        if not _GO_INTEGER.fullmatch(str(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


class GoBooleanField(serializers.BooleanField):
    """A boolean as upstream parses it (Go `strconv.ParseBool`): no `yes`, `on`, `y` and the like."""

    TRUE_VALUES = {"1", "t", "T", "TRUE", "true", "True"}
    FALSE_VALUES = {"0", "f", "F", "FALSE", "false", "False"}


class _QuerySerializer(serializers.Serializer):
    def __init__(self, query=None, **kwargs):
        if query is not None:
            # An empty parameter (`?cursor=`) counts as absent, as upstream.
            kwargs["data"] = {key: value for key, value in query.items() if value != ""}
        super().__init__(**kwargs)

    def validated(self) -> dict:
        if not self.initial_data:
            return dict(self._no_parameters())  # most lookups carry none: skip DRF's per-request field set-up
        if self.is_valid():
            return self.validated_data
        errors = [
            query_error(name, str(messages[0]), self.initial_data.get(name))
            for name, messages in self.errors.items()
        ]
        for name, detail in _BAD_REQUEST_DETAILS.items():
            if name in self.errors:
                raise Problem(400, detail, errors)
        raise Problem(422, "validation failed", errors)

    @classmethod
    @functools.cache
    def _no_parameters(cls) -> dict:
        serializer = cls(query={})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class IncludeDeletedQuerySerializer(_QuerySerializer):
    include_deleted = GoBooleanField(
        required=False, default=False,
        help_text="Also return versions withdrawn from this registry, as `deleted` tombstones.",
    )


class ServerListQuerySerializer(_QuerySerializer):
    # allow_blank: an empty value counts as absent (see _QuerySerializer), and the schema says so.
    cursor = serializers.CharField(
        required=False, allow_blank=True, max_length=4096,
        help_text="`metadata.nextCursor` of the previous page, raw or percent-encoded. It carries the first "
                  "page's `search`, `version`, `updated_since` and `include_deleted`, which win over the query.",
    )
    limit = GoIntegerField(
        required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT,
        help_text="Page size.",
    )
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=200, trim_whitespace=False,
        help_text="Case-insensitive substring of the server name.",
    )
    updated_since = Rfc3339Field(
        required=False,
        help_text="Only entries changed in this registry strictly after this RFC 3339 time; "
                  "includes `deleted` tombstones.",
    )
    version = serializers.CharField(
        required=False, allow_blank=True, max_length=255,
        help_text="`latest` for one entry per server (its latest served version or, with tombstones included "
                  "and none served, its latest tombstone), or an exact version.",
    )
    include_deleted = GoBooleanField(
        required=False,
        help_text="Also return versions withdrawn from this registry as `deleted` tombstones "
                  "(always on with `updated_since`; `false` with it is a 400).",
    )

    def validate(self, attrs):
        if attrs.get("updated_since") is not None and attrs.get("include_deleted") is False:
            raise Problem(400, INCLUDE_DELETED_CONFLICT,
                          [query_error("include_deleted", INCLUDE_DELETED_CONFLICT, False)])
        return attrs

    def page_request(self) -> tuple[ListFilters, Cursor | None, int]:
        data = self.validated()
        cursor = None
        if data.get("cursor"):
            try:
                cursor = cursor_decode(data["cursor"])
            except CursorError as exc:
                raise Problem(400, "Invalid cursor", [query_error("cursor", str(exc), data["cursor"])]) from exc
        filters = cursor.filters if cursor else ListFilters(
            search=data.get("search"), version=data.get("version"),
            updated_since=data.get("updated_since"), include_deleted=data.get("include_deleted"),
        )
        return filters, cursor, data["limit"]
