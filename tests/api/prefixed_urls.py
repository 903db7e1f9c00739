"""A deployment that mounts the registry API under a path prefix, plus routes that fail with a 500:
a plain Django view (served through the full middleware stack) and a registry API view (served
directly by the API middleware)."""

from django.urls import include, path, re_path

from api.views import RegistryApi


def broken_view(request):
    raise RuntimeError("boom")


class BrokenApi(RegistryApi):
    def get(self, request):
        raise RuntimeError("boom")


urlpatterns = [
    re_path(r"^registry/v0\.1/broken$", broken_view),
    re_path(r"^registry/v0\.1/broken-api$", BrokenApi.as_view()),
    path("registry/", include("api.registry_urls")),
]
