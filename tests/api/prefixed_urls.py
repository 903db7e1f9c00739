"""A deployment that mounts the registry API under a path prefix, plus a route that fails with a 500."""

from django.urls import include, path, re_path


def broken_view(request):
    raise RuntimeError("boom")


urlpatterns = [
    re_path(r"^registry/v0\.1/broken$", broken_view),
    path("registry/", include("api.registry_urls")),
]
