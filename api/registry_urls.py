"""The registry API under `v0.1/` and `v0/`, relative so it works under any mount prefix.

`{serverName}` may arrive with a raw `/` (Django decodes `%2F` before routing). A server name holds
exactly one `/` (server.json `name`), so it is two raw segments, or one that still carries the `/` as
`%2F` (double-encoded). The path splits on the last `/versions/` that leaves such a name:
`io.github.acme/versions/versions` lists `io.github.acme/versions` rather than asking `io.github.acme`
for a version named `versions`. A trailing slash is tolerated.
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView, SpectacularYAMLAPIView

from api import views

SERVER_NAME = r"(?P<serverName>[^/]+/[^/]+|[^/]*%2[Ff][^/]*)"

API_ROUTES = [
    (r"servers", views.ServerListApi, "servers"),
    (rf"servers/{SERVER_NAME}/versions/(?P<version>[^/]+)", views.ServerVersionApi, "server-version"),
    (rf"servers/{SERVER_NAME}/versions", views.ServerVersionsApi, "server-versions"),
    (r"health", views.HealthApi, "health"),
    (r"ping", views.PingApi, "ping"),
    (r"version", views.VersionApi, "version"),
]

urlpatterns = [
    re_path(rf"^{prefix}/{route}/?$", view.as_view(), name=f"{name_prefix}{name}")
    for prefix, name_prefix in ((r"v0\.1", "v0.1-"), (r"v0", "v0-"))
    for route, view, name in API_ROUTES
] + [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-json"),
    path("openapi.yaml", SpectacularYAMLAPIView.as_view(), name="openapi-yaml"),
    # The split view serves Swagger UI's start-up script from `docs?script=`: the Content-Security-Policy
    # runs no inline script.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="openapi-json"), name="api-docs"),
]
