from django.urls import include, path

urlpatterns = [
    # Catalog pages and the client-config extension under /v0.1/x/… (matched first).
    path("", include("api.catalog_urls")),
    # The /v0.1 and /v0 registry API, the schema export and its docs.
    path("", include("api.registry_urls")),
]
