"""The registry API under `v0.1/` and `v0/`, relative so it works under any mount prefix.

`{serverName}` may arrive with a raw `/` (Django decodes `%2F` before routing), so the name is a
greedy catch-all and the path splits on its LAST `/versions/`. A trailing slash is tolerated.
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView, SpectacularYAMLAPIView

from api import views

API_ROUTES = [
    (r"servers", views.ServerListApi, "servers"),
    (r"servers/(?P<serverName>.+)/versions/(?P<version>[^/]+)", views.ServerVersionApi, "server-version"),
    (r"servers/(?P<serverName>.+)/versions", views.ServerVersionsApi, "server-versions"),
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
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-json"), name="api-docs"),
]
