"""The `/v0.1` (and `/v0`) registry API: one APIView per endpoint, upstream's wire format."""

from datetime import datetime
from urllib.parse import unquote

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from api.cursors import Cursor, cursor_encode
from api.errors import NUL_BYTES, Problem, ServerNotFound
from api.rendering import compact_json, server_list_body, server_response_body
from api.schema import ANONYMOUS, problem_responses, ref
from api.selectors import listing_lookup, listing_page, listing_versions
from api.serializers import IncludeDeletedQuerySerializer, ServerListQuerySerializer

SERVER_NAME = OpenApiParameter(
    "serverName", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="URL-encoded server name (`io.github.acme%2Fweather`); double-encoded or a raw `/` also work.",
)
VERSION = OpenApiParameter(
    "version", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="URL-encoded version (`1.0.0%2Bb1` for build metadata), or `latest`.",
)
_LOOKUP_ERRORS = problem_responses(
    s400="NUL bytes in the path or query.",
    s404="Server not found: the name or version is unknown or not served here.",
    s422="Invalid `include_deleted`.",
)


class AnyAcceptNegotiation(BaseContentNegotiation):
    """Answer JSON whatever `Accept` says, as upstream does, rather than a 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RegistryApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAcceptNegotiation


def json_response(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def path_value(value: str) -> str:
    """A path segment decoded as upstream does: Django has decoded it once, upstream once more (`%252F`)."""
    decoded = unquote(value)
    if "\x00" in decoded:  # `%2500`: past the middleware's check, and PostgreSQL text cannot hold it
        raise Problem(400, NUL_BYTES)
    return decoded


class ServerListApi(RegistryApi):
    @extend_schema(
        operation_id="listServers", tags=["servers"], auth=ANONYMOUS, summary="List MCP servers",
        description="Served entries ordered by name then version, keyset-paged. With `updated_since` or "
                    "`include_deleted=true`, versions withdrawn from this registry come back as `deleted` tombstones, "
                    "and entries are ordered by `updatedAt` first, so that a change made during a walk comes later "
                    "in it.",
        parameters=[ServerListQuerySerializer],
        responses={
            200: OpenApiResponse(ref("ServerList"), description="A page of servers"),
            **problem_responses(
                s400="Bad `updated_since`, `include_deleted=false` with `updated_since`, or a malformed cursor.",
                s422="`limit` out of 1–100 or not a number, or a non-boolean `include_deleted`.",
            ),
        },
    )
    def get(self, request):
        filters, cursor, limit = ServerListQuerySerializer(query=request.query_params).page_request()
        rows = listing_page(filters=filters, after=cursor, limit=limit)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            name, version, updated_at = rows[-1][0], rows[-1][1], rows[-1][4]
            next_cursor = cursor_encode(Cursor(name=name, version=version,
                                               updated_at=datetime.fromisoformat(updated_at), filters=filters))
        return json_response(server_list_body(rows, next_cursor=next_cursor))


class ServerVersionsApi(RegistryApi):
    @extend_schema(
        operation_id="listServerVersions", tags=["servers"], auth=ANONYMOUS,
        summary="List the served versions of a server",
        description="Newest publication first, unpaged.",
        parameters=[SERVER_NAME, IncludeDeletedQuerySerializer],
        responses={200: OpenApiResponse(ref("ServerList"), description="The server's versions"), **_LOOKUP_ERRORS},
    )
    def get(self, request, serverName):  # noqa: N803 - the path parameter's name in the spec
        include_deleted = IncludeDeletedQuerySerializer(query=request.query_params).validated()["include_deleted"]
        rows = listing_versions(name=path_value(serverName), include_tombstones=include_deleted)
        if not rows:
            raise ServerNotFound()
        return json_response(server_list_body(rows))


class ServerVersionApi(RegistryApi):
    @extend_schema(
        operation_id="getServerVersion", tags=["servers"], auth=ANONYMOUS,
        summary="Get one served version of a server",
        description="`latest` is the latest among the versions this registry serves; with `include_deleted=true` "
                    "and none served, the latest of its `deleted` tombstones.",
        parameters=[SERVER_NAME, VERSION, IncludeDeletedQuerySerializer],
        responses={200: OpenApiResponse(ref("ServerResponse"), description="The server version"), **_LOOKUP_ERRORS},
    )
    def get(self, request, serverName, version):  # noqa: N803
        include_deleted = IncludeDeletedQuerySerializer(query=request.query_params).validated()["include_deleted"]
        row = listing_lookup(name=path_value(serverName), version=path_value(version),
                             include_tombstones=include_deleted)
        if row is None:
            raise ServerNotFound()
        return json_response(server_response_body(row))


def _small_json(value: dict) -> HttpResponse:
    return json_response(compact_json(value).encode())


class HealthApi(RegistryApi):
    @extend_schema(operation_id="health", tags=["meta"], auth=ANONYMOUS, summary="Liveness",
                   responses={200: ref("Health")})
    def get(self, request):
        return _small_json({"status": "ok"})


class PingApi(RegistryApi):
    @extend_schema(operation_id="ping", tags=["meta"], auth=ANONYMOUS, summary="Ping", responses={200: ref("Pong")})
    def get(self, request):
        return _small_json({"pong": True})


class VersionApi(RegistryApi):
    @extend_schema(operation_id="version", tags=["meta"], auth=ANONYMOUS, summary="Build information",
                   responses={200: ref("Version")})
    def get(self, request):
        return _small_json({
            "version": settings.REGISTRY_VERSION,
            "git_commit": settings.REGISTRY_GIT_COMMIT,
            "build_time": settings.REGISTRY_BUILD_TIME,
        })
