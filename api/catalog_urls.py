from django.conf import settings
from django.urls import path

from api import catalog_views

# Upstream's extension-path convention: /v0.1/x/<reverse-DNS owner>/…, here the host part of our _meta namespace.
EXTENSION_NAMESPACE = settings.REGISTRY_META_NAMESPACE.split("/", 1)[0]

urlpatterns = [
    path("", catalog_views.catalog_list, name="catalog-list"),
    path("servers/<path:name>/", catalog_views.catalog_detail, name="catalog-detail"),
    path(f"v0.1/x/{EXTENSION_NAMESPACE}/client-config/<path:serverName>", catalog_views.ClientConfigView.as_view(),
         name="client-config"),
]
