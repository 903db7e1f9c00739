"""The employee catalog (server-rendered pages) and the client-config API extension."""

import json
from datetime import datetime
from urllib.parse import urlencode

from csp.decorators import csp_update
from django import forms
from django.conf import settings
from django.core.handlers.wsgi import get_script_name
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.catalog_selectors import catalog_server_versions, catalog_servers, served_listing
from api.client_config import (
    CLIENTS,
    ClientConfigError,
    client_config_build,
    config_sources,
    default_source,
)
from api.errors import Problem, ServerNotFound, query_error
from api.schema import ANONYMOUS, problem_responses, ref
from api.views import AnyAcceptNegotiation, path_value
from curation.choices import REGISTRY_TYPES
from registry_project.env import is_http_url

PAGE_SIZE = 24
MAX_SEARCH_LENGTH = 200
CLIENT_NAMES = {"vscode": "VS Code", "claude-desktop": "Claude Desktop", "cursor": "Cursor"}
# Keys the registry itself writes into org_meta; the rest are curators' metadata.
REGISTRY_META_KEYS = {"curationState", "versionCurationState", "approvedBy", "approvedAt"}
TEAM_KEYS = ("owningTeam", "owner", "team")
CLASSIFICATION_KEYS = ("dataClassification", "classification")
# Server icons are upstream's https URLs (`_icon`): these pages, and no others, may load images from any https host.
allow_server_icons = csp_update({"img-src": ["https:"]})


def registry_base_url(request) -> str:
    """What clients are given: scheme, host and any path prefix, never `/v0.1`, no trailing slash."""
    if settings.REGISTRY_PUBLIC_URL:
        return settings.REGISTRY_PUBLIC_URL.rstrip("/")
    return request.build_absolute_uri(get_script_name(request.META).rstrip("/") + "/").rstrip("/")


def _choice_field(label: str, choices: list[tuple[str, str]], problem: str) -> forms.ChoiceField:
    # The controls sit outside the header's search form (base.html), which they belong to through `form`.
    return forms.ChoiceField(label=label, choices=choices, required=False, error_messages={"invalid_choice": problem},
                             widget=forms.Select(attrs={"form": "catalog-search"}))


class CatalogListQuery(forms.Form):
    """The catalog list's query string; an empty value filters nothing."""

    q = forms.CharField(required=False, error_messages={
        "null_characters_not_allowed": "The search text (q) contains a NUL character."})
    runs = _choice_field("Runs", [("", "Remote or local"), ("remote", "Remote"), ("local", "Local")],
                         "The runs filter must be remote or local, or empty for both.")
    package_type = _choice_field("Package type", [("", "Any"), *((kind, kind) for kind in REGISTRY_TYPES)],
                                 f"The package_type filter must be one of {', '.join(REGISTRY_TYPES)}, or empty "
                                 "for any.")
    sort = _choice_field("Sort by", [("name", "Name"), ("title", "Title"), ("updated", "Recently updated")],
                         "The sort order must be name, title or updated.")

    def clean_q(self):
        return self.cleaned_data["q"][:MAX_SEARCH_LENGTH].strip()


@allow_server_icons
def catalog_list(request):
    query = CatalogListQuery(request.GET)
    if not query.is_valid():
        problem = next(iter(query.errors.values()))[0]
        return render(request, "catalog/bad_request.html", {"problem": problem}, status=400)
    search, runs, package_type, sort = (query.cleaned_data[name] for name in ("q", "runs", "package_type", "sort"))
    listings = catalog_servers(search=search, runs=runs, package_type=package_type, sort=sort or "name")
    page = Paginator(listings, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "catalog/list.html", {
        "page": page,
        "cards": [_card(listing) for listing in page.object_list],
        "search": search,
        "filter_fields": [query[name] for name in ("runs", "package_type", "sort")],
        "is_filtered": bool(runs or package_type),
        "clear_filters_url": _catalog_list_url(q=search, sort=sort),
    })


def _catalog_list_url(**params) -> str:
    given = {name: value for name, value in params.items() if value}
    return reverse("catalog-list") + (f"?{urlencode(given)}" if given else "")


@allow_server_icons
def catalog_detail(request, name):
    versions = catalog_server_versions(name=name) if "\x00" not in name else []
    if not versions:
        return _not_found(request, name)
    wanted = request.GET.get("version")
    if wanted in ("", "latest"):  # `latest` as in the API: upstream never lets a version be called that
        wanted = None
    current = next((v for v in versions if v.version_string == wanted), None) if wanted else \
        next((v for v in versions if v.is_latest), versions[0])
    if current is None:
        return _not_found(request, f"{name} {wanted}")
    document = _document(current)
    sources = config_sources(document)
    source = _chosen_source(request.GET.get("source"), sources) or default_source(document)
    configs = [_client_config(document, client, source) for client in CLIENTS] if source else []
    base_url = registry_base_url(request)
    return render(request, "catalog/detail.html", {
        "card": _card(current),
        "listing": current,
        "versions": versions,
        "document": document,
        "packages": [_package_view(p) for p in _dicts(document.get("packages"))],
        "remotes": [_remote_view(r) for r in _dicts(document.get("remotes"))],
        "repository_url": _http_url((document.get("repository") or {}).get("url")
                                    if isinstance(document.get("repository"), dict) else None),
        "website_url": _http_url(document.get("websiteUrl")),
        "sources": [_source_view(option) for option in sources],
        "source": _source_view(source) if source else None,
        "configs": configs,
        # Whether a source has a config depends on the source alone (a bundle, a refused source): shown once.
        "unconfigurable": configs[0] if configs and configs[0]["config"] is None else None,
        "base_url": base_url,
        "vscode_setting": _visible_json({"chat.mcp.gallery.serviceUrl": base_url}),
    })


def _visible_json(value) -> str:
    """`value` as indented JSON passed through `_visible()`: a parser reads the same JSON, and what is copied
    is what is shown.

    Outside its strings json.dumps writes only ASCII, and inside them it escapes line breaks, so every
    character escaped here is inside a string, where `\\uXXXX` means that character.
    """
    return _visible(json.dumps(value, indent=2, ensure_ascii=False))


def _visible(text: str) -> str:
    """`text` with every invisible or direction-changing character (controls, format characters such as
    U+200B and U+202E, separators other than the space) written as a `\\uXXXX` escape.

    Upstream text shown unescaped could display as something else: a U+202E displays the rest of the
    line reversed, a U+200B not at all.
    """
    return "".join(char if char.isprintable() or char == "\n" else _json_escape(char) for char in text)


def _json_escape(char: str) -> str:
    """`\\uXXXX`, which takes four hex digits: beyond U+FFFF, the UTF-16 surrogate pair, as JSON writes it."""
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _client_config(document: dict, client: str, source: dict) -> dict:
    index = {"package_index" if source["type"] == "package" else "remote_index": source["index"]}
    config = client_config_build(document=document, client=client, **index).as_dict()
    config["client_name"] = CLIENT_NAMES[client]
    config["json"] = _visible_json(config["config"]) if config["config"] else ""
    config["launch_json"] = _visible_json(config["launch"]) if config["launch"] else ""
    return config


def _not_found(request, what: str):
    return render(request, "catalog/not_found.html", {"what": _visible(what)}, status=404)


def _source_view(source: dict) -> dict:
    return {**source, "label": _visible(source["label"])}


def _chosen_source(raw: str | None, sources: list[dict]) -> dict | None:
    if not raw:
        return None
    kind, _, index = raw.partition("-")
    return next((s for s in sources if s["type"] == kind and str(s["index"]) == index), None)


# --- Shaping upstream data for templates (templates autoescape every value) -----


def _document(listing) -> dict:
    document = listing.version.document
    return document if isinstance(document, dict) else {}


def _card(listing) -> dict:
    document = _document(listing)
    packages = _dicts(document.get("packages"))
    remotes = _dicts(document.get("remotes"))
    meta = listing.org_meta if isinstance(listing.org_meta, dict) else {}
    org_fields = [(_label(key), _display(value)) for key, value in meta.items()
                  if key not in REGISTRY_META_KEYS and value not in (None, "", [], {})]
    return {
        "name": listing.name,
        "version": listing.version_string,
        "updated_at": listing.updated_at,
        "title": _text(document.get("title")) or listing.name.rsplit("/", 1)[-1],
        "description": _text(document.get("description")),
        "icon": _icon(document.get("icons")),
        "package_types": sorted({str(p.get("registryType")) for p in packages if p.get("registryType")}),
        "is_remote": bool(remotes),
        "is_local": bool(packages),
        "team": _first(meta, TEAM_KEYS),
        "classification": _first(meta, CLASSIFICATION_KEYS),
        "org_fields": org_fields,
        "approved_by": meta.get("approvedBy"),
        "approved_at": _timestamp(meta.get("approvedAt")),
    }


def _package_view(package: dict) -> dict:
    transport = package.get("transport") if isinstance(package.get("transport"), dict) else {}
    return {
        "registry_type": _text(package.get("registryType")),
        "identifier": _code(package.get("identifier")),
        "version": _code(package.get("version")),
        "runtime_hint": _text(package.get("runtimeHint")),
        "transport": _text(transport.get("type")),
        "transport_url": _code(transport.get("url")),
        "sha256": _text(package.get("fileSha256")),
        "environment": [_input_view(item) for item in _dicts(package.get("environmentVariables"))],
        "headers": [_input_view(item) for item in _dicts(transport.get("headers"))],
        "arguments": [_argument_view(item) for item in
                      _dicts(package.get("runtimeArguments")) + _dicts(package.get("packageArguments"))],
    }


def _remote_view(remote: dict) -> dict:
    variables = remote.get("variables") if isinstance(remote.get("variables"), dict) else {}
    return {
        "type": _text(remote.get("type")),
        "url": _code(remote.get("url")),
        "headers": [_input_view(item) for item in _dicts(remote.get("headers"))],
        "variables": [_input_view({"name": key, **value}) for key, value in variables.items()
                      if isinstance(value, dict)],
    }


def _input_view(item: dict) -> dict:
    return {
        "name": _code(item.get("name")),
        "description": _text(item.get("description")),
        "is_required": bool(item.get("isRequired")),
        "is_secret": bool(item.get("isSecret")),
        "default": _code(item.get("default")),
        "fixed": item.get("value") is not None,
        "choices": [_visible(str(c)) for c in item.get("choices") or [] if isinstance(item.get("choices"), list)],
    }


def _argument_view(item: dict) -> dict:
    view = _input_view(item)
    view["name"] = _code(item.get("name")) or _code(item.get("valueHint")) or _code(item.get("value"))
    view["kind"] = _text(item.get("type"))
    view["value"] = _text(item.get("value"))
    view["is_repeated"] = bool(item.get("isRepeated"))
    return view


def _icon(icons) -> str | None:
    """The first https icon, preferring one without a dark-only theme. Anything else is never rendered."""
    candidates = [i for i in _dicts(icons) if isinstance(i.get("src"), str) and is_http_url(i["src"], schemes=("https",))]
    candidates.sort(key=lambda i: i.get("theme") == "dark")
    return candidates[0]["src"] if candidates else None


def _http_url(url) -> str | None:
    return url if isinstance(url, str) and is_http_url(url) else None


def _first(meta: dict, keys: tuple[str, ...]):
    for key in keys:
        if meta.get(key) not in (None, ""):
            return _display(meta[key])
    return None


def _timestamp(value):
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _label(key: str) -> str:
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in str(key)).replace("_", " ").strip()
    return spaced[:1].upper() + spaced[1:]


def _display(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _code(value) -> str | None:
    """Upstream text shown as code (a name, identifier, URL or value): prose keeps its bidi marks, code does not."""
    text = _text(value)
    return _visible(text) if text else None


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# --- The API extension -------------------------------------------------------------


class ClientConfigQuerySerializer(serializers.Serializer):
    client = serializers.ChoiceField(choices=CLIENTS)
    version = serializers.CharField(required=False, max_length=255, default="latest")
    package = serializers.IntegerField(required=False, min_value=0)
    remote = serializers.IntegerField(required=False, min_value=0)

    def validate(self, attrs):
        if "package" in attrs and "remote" in attrs:
            raise serializers.ValidationError("Give either package or remote, not both.")
        return attrs


class ClientConfigView(APIView):
    """`/v0.1/x/<namespace host>/client-config/{serverName}`: an MCP client configuration for a served server.

    JSON whatever `Accept` or `?format=` asks, as the registry API answers: never DRF's browsable page or a 406.
    """

    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        operation_id="getClientConfig",
        summary="Client configuration for a served MCP server",
        description=(
            "Converts a served version's `server.json` into the configuration of one MCP client: "
            "`vscode` (`.vscode/mcp.json` with `inputs`), `claude-desktop` (`claude_desktop_config.json`; remotes "
            "through `mcp-remote`) or `cursor` (`.cursor/mcp.json` with `${env:NAME}`). Secrets and required values "
            "are always input references, never literal values. `serverName` is URL-encoded (`/` as `%2F`)."
        ),
        tags=["extensions"],
        auth=ANONYMOUS,
        parameters=[
            OpenApiParameter("serverName", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="URL-encoded server name, e.g. `io.github.acme%2Fweather`."),
            OpenApiParameter("client", ref("McpClient"), required=True),
            OpenApiParameter("version", OpenApiTypes.STR, description="A served version, or `latest` (default)."),
            OpenApiParameter("package", OpenApiTypes.INT, description="Index in `packages` to configure."),
            OpenApiParameter("remote", OpenApiTypes.INT, description="Index in `remotes` to configure. "
                             "Default: the first runnable package, else the first remote."),
        ],
        responses={
            200: ref("ClientConfigResponse"),
            **problem_responses(
                s400="NUL bytes in the path or query.",
                s404="Server not found: unknown, not served here, or no such version.",
                s422="Invalid query parameters, or no such package or remote (with `errors`).",
            ),
        },
    )
    def get(self, request, serverName):  # noqa: N803 - the path parameter's name in the spec
        query = ClientConfigQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise Problem(422, "validation failed", [
                query_error(name, str(messages[0]), request.query_params.get(name))
                for field, messages in query.errors.items()
                for name in ["remote" if field == "non_field_errors" else field]
            ])
        params = query.validated_data
        listing = served_listing(name=path_value(serverName), version=params["version"])
        if listing is None:
            raise ServerNotFound()
        try:
            result = client_config_build(
                document=_document(listing), client=params["client"],
                package_index=params.get("package"), remote_index=params.get("remote"),
            ).as_dict()
        except ClientConfigError as exc:
            field = "remote" if "remote" in params else "package"
            raise Problem(422, "validation failed", [query_error(field, str(exc), params.get(field))]) from exc
        result = {"client": result.pop("client"), "file": result.pop("file"), "serverName": listing.name,
                  "version": listing.version_string, **result}
        return Response(result)
