"""The OpenAPI description of the registry API: components, drf-spectacular hooks and the docs page.

The `/v0.1` wire format is upstream's, so its shapes are described here as JSON Schema (after
`mcp-registry/openapi.yaml`, with what this registry adds: the org `_meta` block, problem details and the
client-config extension). Every object or enum a client uses by name is a component, named as upstream's where
it has one: client generators name a type after its component, and invent `ServerDetailIconsItem`-like names,
or one class per use, for an inline schema.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse

from api.client_config import CLIENTS
from api.errors import PROBLEM_CONTENT_TYPE
from api.rendering import OFFICIAL_NAMESPACE, STATUS_MESSAGE_MAX
from mirror.validation import SERVER_NAME_PATTERN


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# `extend_schema(auth=ANONYMOUS)`: no `security` on the operation. drf-spectacular's default for an anonymous view,
# `[{}]` ("anonymous allowed"), makes client generators type every call as needing credentials.
ANONYMOUS: list = []

_DATE_TIME = {"type": "string", "format": "date-time"}
_ANY_OBJECT = {"type": "object", "additionalProperties": True}


def _nullable(name: str, description: str) -> dict:
    """The component or null: a generator types it `<name> | None` (an inline `["object", "null"]` it names
    `…Type0`)."""
    return {"oneOf": [ref(name), {"type": "null"}], "description": description}


def _components() -> dict:
    return {
        "Repository": {
            "type": "object",
            "required": ["url", "source"],
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "source": {"type": "string"},
                "id": {"type": "string"},
                "subfolder": {"type": "string"},
            },
        },
        "Package": {
            "type": "object",
            "required": ["registryType", "identifier", "transport"],
            "properties": {
                "registryType": {"type": "string", "examples": ["npm", "pypi", "oci", "nuget", "mcpb"]},
                "registryBaseUrl": {"type": "string", "format": "uri"},
                "identifier": {"type": "string"},
                "version": {"type": "string", "minLength": 1},
                "fileSha256": {"type": "string", "pattern": "^[a-f0-9]{64}$"},
                "runtimeHint": {"type": "string"},
                "transport": ref("LocalTransport"),
                "runtimeArguments": {"type": "array", "items": ref("Argument")},
                "packageArguments": {"type": "array", "items": ref("Argument")},
                "environmentVariables": {"type": "array", "items": ref("KeyValueInput")},
            },
        },
        "LocalTransport": {**_ANY_OBJECT, "description": "How a package is reached (`stdio`, `streamable-http` or "
                                                         "`sse`), as published."},
        "Argument": {**_ANY_OBJECT, "description": "A `positional` or `named` argument, as published."},
        "KeyValueInput": {**_ANY_OBJECT, "description": "An environment variable the package reads, as published."},
        "ServerDetail": {
            "description": "The server's `server.json` exactly as published upstream.",
            "type": "object",
            "required": ["name", "description", "version"],
            "properties": {
                "name": {"type": "string", "minLength": 3, "maxLength": 200,
                         "pattern": f"^{SERVER_NAME_PATTERN}$", "example": "io.github.user/weather"},
                "description": {"type": "string", "minLength": 1, "maxLength": 100},
                "title": {"type": "string", "minLength": 1, "maxLength": 100},
                "repository": ref("Repository"),
                "version": {"type": "string", "maxLength": 255, "example": "1.0.2"},
                "websiteUrl": {"type": "string", "format": "uri"},
                "icons": {"type": "array", "items": ref("Icon")},
                "$schema": {"type": "string", "format": "uri"},
                "packages": {"type": "array", "items": ref("Package")},
                "remotes": {"type": "array", "items": ref("RemoteTransport")},
                "_meta": {
                    "type": "object",
                    "properties": {"io.modelcontextprotocol.registry/publisher-provided": ref("PublisherProvidedMeta")},
                },
            },
        },
        "Icon": {
            "type": "object",
            "required": ["src"],
            "properties": {
                "src": {"type": "string", "format": "uri", "maxLength": 255},
                "mimeType": {"type": "string", "enum": ["image/png", "image/jpeg", "image/jpg",
                                                        "image/svg+xml", "image/webp"]},
                "sizes": {"type": "array", "items": {"type": "string", "pattern": r"^(\d+x\d+|any)$"}},
                "theme": {"type": "string", "enum": ["light", "dark"]},
            },
        },
        "RemoteTransport": {
            "type": "object",
            "required": ["type", "url"],
            "properties": {"type": {"type": "string", "enum": ["streamable-http", "sse"]}, "url": {"type": "string"}},
        },
        "PublisherProvidedMeta": {**_ANY_OBJECT, "description": "The publisher's own metadata, as published."},
        "OfficialMeta": {
            "description": "Registry-managed facts, as upstream, about the entry in THIS registry.",
            "type": "object",
            "required": ["status", "statusChangedAt", "publishedAt", "updatedAt", "isLatest"],
            "properties": {
                "status": {"type": "string", "enum": ["active", "deprecated", "deleted"],
                           "description": "`active` when served; `deleted` for a tombstone of a withdrawn version."},
                "statusMessage": {"type": "string", "maxLength": STATUS_MESSAGE_MAX},
                "statusChangedAt": _DATE_TIME,
                "publishedAt": {**_DATE_TIME, "description": "When upstream published this version."},
                "updatedAt": {**_DATE_TIME, "description": "When this entry last changed in this registry "
                                                           "(approval, withdrawal, metadata); drives `updated_since`."},
                "isLatest": {"type": "boolean",
                             "description": "Latest among the versions this registry serves for the name."},
            },
            "additionalProperties": False,
        },
        "OrgMeta": {
            "description": f"This organisation's curation data, under `_meta[\"{settings.REGISTRY_META_NAMESPACE}\"]`.",
            "type": "object",
            "properties": {
                "curationState": ref("CurationState"),
                "versionCurationState": ref("CurationState"),
                "approvedBy": {"type": "string"},
                "approvedAt": {"type": ["string", "null"], "format": "date-time"},
            },
            "additionalProperties": True,
        },
        "CurationState": {"type": "string", "enum": ["pending", "approved", "blocked"]},
        "ServerResponse": {
            "type": "object",
            "required": ["server", "_meta"],
            "properties": {
                "server": ref("ServerDetail"),
                "_meta": {
                    "type": "object",
                    "required": [OFFICIAL_NAMESPACE, settings.REGISTRY_META_NAMESPACE],
                    "properties": {OFFICIAL_NAMESPACE: ref("OfficialMeta"),
                                   settings.REGISTRY_META_NAMESPACE: ref("OrgMeta")},
                    "additionalProperties": True,
                },
            },
            "additionalProperties": False,
        },
        "ServerList": {
            "type": "object",
            "required": ["servers", "metadata"],
            "properties": {
                "servers": {"type": "array", "items": ref("ServerResponse")},
                "metadata": {
                    "type": "object",
                    "required": ["count"],
                    "properties": {
                        "nextCursor": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$",
                                       "description": "Absent on the last page; pass it back as `cursor`."},
                        "count": {"type": "integer", "minimum": 0, "description": "Entries on this page."},
                    },
                },
            },
            "additionalProperties": False,
        },
        "Problem": {
            "description": "RFC 9457 problem details, as upstream's server sends them.",
            "type": "object",
            "required": ["title", "status", "detail"],
            "properties": {
                "title": {"type": "string", "example": "Not Found"},
                "status": {"type": "integer", "example": 404},
                "detail": {"type": "string", "example": "Server not found"},
                "errors": {"type": "array", "items": {
                    "type": "object",
                    "required": ["message", "location"],
                    "properties": {"message": {"type": "string"},
                                   "location": {"type": "string", "example": "query.limit"},
                                   "value": {}},
                }},
            },
        },
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
        "Pong": {"type": "object", "required": ["pong"], "properties": {"pong": {"type": "boolean"}}},
        "Version": {
            "type": "object",
            "required": ["version", "git_commit", "build_time"],
            "properties": {"version": {"type": "string"}, "git_commit": {"type": "string"},
                           "build_time": {"type": "string"}},
        },
        "McpClient": {
            "description": "An MCP client whose configuration the client-config extension writes.",
            "type": "string",
            "enum": list(CLIENTS),
        },
        "ClientConfigResponse": {
            "type": "object",
            "required": ["client", "file", "serverName", "version", "serverKey", "source", "config", "inputs",
                         "launch", "download", "notes"],
            "properties": {
                "client": ref("McpClient"),
                "file": {"type": "string", "description": "Where the client reads this configuration from."},
                "serverName": {"type": "string"},
                "version": {"type": "string"},
                "serverKey": {"type": "string", "description": "The key of the server entry inside `config`."},
                "source": {**_ANY_OBJECT, "description": "The package or remote configured: type, index and identity."},
                "config": _nullable("ClientConfigFile", "The client's configuration file content; null for a "
                                    "package that is installed rather than configured (mcpb), and for a package or "
                                    "remote that cannot be configured safely (`notes` says why)."),
                "inputs": {"type": "array", "items": _ANY_OBJECT,
                           "description": "Values the user supplies, each with the reference used in `config`."},
                "launch": _nullable("LaunchCommand", "For a package serving HTTP: the command to start before "
                                                     "connecting."),
                "download": _nullable("PackageDownload", "For an mcpb package: its URL and SHA-256."),
                "notes": {"type": "array", "items": {"type": "string"}},
            },
        },
        "ClientConfigFile": {**_ANY_OBJECT, "description": "The client's configuration file content."},
        "LaunchCommand": {**_ANY_OBJECT, "description": "A command to start before the client connects."},
        "PackageDownload": {**_ANY_OBJECT, "description": "A package to download and verify rather than configure."},
    }


def problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ref("Problem"), description=description)


def problem_responses(**by_status: str) -> dict:
    """`{(status, "application/problem+json"): …}` for `extend_schema(responses=…)`."""
    return {(int(status.removeprefix("s")), PROBLEM_CONTENT_TYPE): problem(text) for status, text in by_status.items()}


def describe_v01_paths(endpoints, **kwargs):
    """Preprocessing hook: describe only `/v0.1` (`/v0` answers the same), without the tolerated trailing `/`."""
    return [
        (path.rstrip("/") or "/", path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
        if "/v0/" not in path
    ]


def add_registry_components(result, generator, request, public):
    """Postprocessing hook: the hand-written component schemas referenced by the views."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(_components())
    return result
