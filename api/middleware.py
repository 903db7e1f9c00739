"""HTTP behaviour shared by every `/v0.1` and `/v0` response, wherever the API is mounted.

CORS on everything (errors and redirects included), 204 preflights, 400 for NUL bytes, repeated slashes
read as one, problem+json instead of Django's HTML 404/500 pages, and a strong ETag with
`If-None-Match` → 304 on every 200.

The middleware also serves the registry API itself, the way WhiteNoise serves static files: an API
request goes through `SecurityMiddleware` and the `ALLOWED_HOSTS` check, then straight to its view,
skipping sessions, CSRF, auth, messages and django-structlog's request logging, which the anonymous,
read-only API never uses and which cost more than the view itself (bench/README.md, "API
benchmark"). Gunicorn's access log still records every request.
"""

import hashlib
import re
from http import HTTPStatus

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpResponse, HttpResponseNotModified
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, resolve
from django.utils.http import parse_etags

from api.errors import ENDPOINT_NOT_FOUND, NUL_BYTES, PROBLEM_CONTENT_TYPE, problem_response
from api.views import RegistryApi
from registry_project.middleware import has_nul_bytes

API_PATH = re.compile(r"(?:^|/)v0(?:\.1)?(?:/|$)")
REPEATED_SLASHES = re.compile(r"//+")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
}
PREFLIGHT_MAX_AGE = "86400"


class RegistryApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.serve_api = convert_exception_to_response(SecurityMiddleware(convert_exception_to_response(_call_view)))

    def __call__(self, request):
        if not API_PATH.search(request.path_info):
            return self.get_response(request)
        return self._with_cors(self._respond(request))

    def _respond(self, request):
        if has_nul_bytes(request):
            return problem_response(400, NUL_BYTES)
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
            return response
        # A base URL configured with a trailing `/` yields `//v0.1/…`; a server name never holds `//`.
        request.path_info = REPEATED_SLASHES.sub("/", request.path_info)
        try:
            request.resolver_match = resolve(request.path_info)
        except Resolver404:
            return problem_response(404, ENDPOINT_NOT_FOUND)  # never Django's HTML page
        registry_api = issubclass(getattr(request.resolver_match.func, "view_class", object), RegistryApi)
        # Anything else (e.g. a catalog page whose server name holds a `v0` segment) gets the full stack.
        response = self.serve_api(request) if registry_api else self.get_response(request)
        if response.status_code == 200 and not response.streaming:
            return self._conditional(request, response)
        # Django's own error pages (a crash; a disallowed Host on the API) become problems too.
        failed = response.status_code >= 500 or (registry_api and response.status_code >= 400)
        if failed and response.get("Content-Type", "") != PROBLEM_CONTENT_TYPE:
            detail = "Internal server error" if response.status_code >= 500 else HTTPStatus(response.status_code).phrase
            return problem_response(response.status_code, detail)
        return response

    @staticmethod
    def _conditional(request, response):
        # SHA-256 (hardware-accelerated on current CPUs) hashes a 300 KB page in ~2/3 of BLAKE2b's time.
        etag = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
        cache_control = f"public, max-age={settings.REGISTRY_CACHE_MAX_AGE}"
        wanted = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
        if request.method in ("GET", "HEAD") and ("*" in wanted or etag in wanted):
            response = HttpResponseNotModified()  # no Content-Length: RFC 9110 §8.6 allows only the 200's
        else:
            response["Content-Length"] = str(len(response.content))
        response["ETag"] = etag
        response["Cache-Control"] = cache_control
        return response

    @staticmethod
    def _with_cors(response):
        for header, value in CORS_HEADERS.items():
            response[header] = value
        return response


def _call_view(request):
    request.get_host()  # validated against ALLOWED_HOSTS, as CommonMiddleware does for the rest of the site
    match = request.resolver_match
    return match.func(request, *match.args, **match.kwargs)
