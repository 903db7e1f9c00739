"""Adds "Export allowlist" actions to the curators' Server admin.

The Server admin is curation's; this module takes whichever class is registered when the
`api` app's admin loads (after `mirror` and `curation`) and re-registers a subclass of it,
so the import direction stays api → curation → mirror.
"""

import json

from django.contrib import admin
from django.http import HttpResponse
from django.utils import timezone

from api.allowlist import allowlist_build
from api.catalog_selectors import allowlist_listings
from mirror.models import Server

_registered = admin.site._registry.get(Server)
_BaseServerAdmin = _registered.__class__ if _registered is not None else admin.ModelAdmin


def _export(queryset, output_format: str) -> HttpResponse:
    """The served versions of the selected servers, as a downloadable allowlist."""
    listings = allowlist_listings().filter(version__server__in=queryset.values("pk"))
    document = allowlist_build(listings=listings, output_format=output_format)
    response = HttpResponse(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                            content_type="application/json; charset=utf-8")
    filename = f"mcp-allowlist-{output_format}-{timezone.now():%Y%m%d-%H%M%S}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ServerAdmin(_BaseServerAdmin):
    actions = [*(_BaseServerAdmin.actions or []), "export_allowlist_vscode", "export_allowlist_copilot",
               "export_allowlist_json"]

    @admin.action(permissions=["view"], description="Export allowlist: VS Code policy (approved among selected)")
    def export_allowlist_vscode(self, request, queryset):
        return _export(queryset, "vscode-policy")

    @admin.action(permissions=["view"],
                  description="Export allowlist: Copilot managed settings (approved among selected)")
    def export_allowlist_copilot(self, request, queryset):
        return _export(queryset, "copilot-managed-settings")

    @admin.action(permissions=["view"], description="Export allowlist: JSON (approved among selected)")
    def export_allowlist_json(self, request, queryset):
        return _export(queryset, "json")


if _registered is not None:
    admin.site.unregister(Server)
admin.site.register(Server, ServerAdmin)
