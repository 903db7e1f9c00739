"""Read-only views of the mirror: upstream data is never added, edited or deleted here.

Upstream text is untrusted: it is shown only through `format_html` and auto-escaping.
"""

import json
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils.html import format_html

from mirror.choices import UpstreamStatus
from mirror.models import SchemaDocument, Server, ServerVersion, SyncRun, UpstreamEvent
from registry_project.admin import RegistryModelAdmin


class ReadOnlyAdmin(RegistryModelAdmin):
    """Viewable by staff with the view permission; nothing can be added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def pretty_json(text_or_value):
    """Pretty-print JSON for a read-only <pre>, keeping upstream's key order; escaped."""
    try:
        value = json.loads(text_or_value) if isinstance(text_or_value, str) else text_or_value
        if value in (None, {}, []):
            return "—"
        text = json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the page's stack allows: as stored
        shown = text_or_value if isinstance(text_or_value, str) else "(nested too deeply to show)"
        return format_html('<pre class="registry-json">{}</pre>', shown)
    return format_html(
        '<pre class="registry-json">{}</pre>', text)


class ServerStatusFilter(admin.SimpleListFilter):
    title = "upstream status (latest version)"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return UpstreamStatus.choices

    def queryset(self, request, queryset):
        if self.value() in UpstreamStatus.values:
            return queryset.filter(latest_version__status=self.value())
        return queryset


class MissingUpstreamFilter(admin.SimpleListFilter):
    title = "missing upstream"
    parameter_name = "missing_upstream"
    field = "missing_upstream_since"

    def lookups(self, request, model_admin):
        return (("yes", "Missing upstream"), ("no", "Present upstream"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(**{f"{self.field}__isnull": False})
        if self.value() == "no":
            return queryset.filter(**{f"{self.field}__isnull": True})
        return queryset


class VersionMissingUpstreamFilter(MissingUpstreamFilter):
    field = "server__missing_upstream_since"


@admin.register(Server)
class ServerAdmin(ReadOnlyAdmin):
    list_display = ("name", "latest_version_display", "latest_status", "missing_upstream_since", "first_seen_at",
                    "last_seen_at", "versions_link")
    list_select_related = ("latest_version",)
    list_filter = (ServerStatusFilter, MissingUpstreamFilter)
    search_fields = ("name",)
    search_help_text = "Search by server name."
    ordering = ("name",)
    # fieldsets, not fields: a subclass (curation's admin) replaces them with its own.
    fieldsets = ((None, {"fields": ("name", "latest_version_display", "latest_status", "first_seen_at",
                                    "last_seen_at", "missing_upstream_since", "versions_link")}),)
    readonly_fields = ("name", "latest_version_display", "latest_status", "first_seen_at", "last_seen_at",
                       "missing_upstream_since", "versions_link")

    @admin.display(description="latest version", ordering="latest_version__version")
    def latest_version_display(self, server):
        return server.latest_version.version if server.latest_version else "—"

    @admin.display(description="upstream status", ordering="latest_version__status")
    def latest_status(self, server):
        return server.latest_version.get_status_display() if server.latest_version else "—"

    @admin.display(description="versions")
    def versions_link(self, server):
        url = reverse("admin:mirror_serverversion_changelist") + "?" + urlencode({"server__id__exact": server.pk})
        return format_html('<a href="{}">all versions</a>', url)


class VersionChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list shows no upstream document: leave its two largest columns (text and JSONB) unread.
        return super().get_queryset(request, exclude_parameters).defer("server_json", "document")


@admin.register(ServerVersion)
class ServerVersionAdmin(ReadOnlyAdmin):
    list_display = ("server_name", "version", "status", "is_latest", "published_at", "upstream_updated_at",
                    "changed_at", "last_seen_at")
    list_select_related = ("server",)
    list_filter = ("status", "is_latest", VersionMissingUpstreamFilter)
    search_fields = ("server__name", "version")
    search_help_text = "Search by server name or version."
    ordering = ("server__name", "version")
    fieldsets = (
        (None, {"fields": ("server", "version", "status", "status_changed_at", "status_message", "is_latest",
                           "published_at", "upstream_updated_at")}),
        ("Mirror", {"fields": ("first_seen_at", "last_seen_at", "changed_at", "content_hash")}),
        ("Upstream server.json (as served)", {"fields": ("server_json_pretty",)}),
    )
    readonly_fields = ("server", "version", "status", "status_changed_at", "status_message", "is_latest",
                       "published_at", "upstream_updated_at", "first_seen_at", "last_seen_at", "changed_at",
                       "content_hash", "server_json_pretty")

    def get_changelist(self, request, **kwargs):
        return VersionChangeList

    @admin.display(description="server", ordering="server__name")
    def server_name(self, version):
        return version.server.name

    @admin.display(description="server.json")
    def server_json_pretty(self, version):
        return pretty_json(version.server_json)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "mode", "outcome", "duration", "pages", "created", "changed", "status_changed",
                    "unchanged", "rejected", "error_summary")
    list_filter = ("outcome", "mode")
    date_hierarchy = "started_at"
    fieldsets = (
        (None, {"fields": ("started_at", "finished_at", "duration", "mode", "outcome", "upstream_url",
                           "updated_since", "error")}),
        ("Counts", {"fields": ("pages", "created", "changed", "status_changed", "unchanged", "rejected")}),
        ("Rejected entries (first 1000)", {"fields": ("rejections_pretty",)}),
    )
    readonly_fields = ("started_at", "finished_at", "duration", "mode", "outcome", "upstream_url", "updated_since",
                       "error", "pages", "created", "changed", "status_changed", "unchanged", "rejected",
                       "rejections_pretty")

    @admin.display(description="duration")
    def duration(self, run):
        if not run.finished_at:
            return "—"
        return f"{(run.finished_at - run.started_at).total_seconds():.1f}s"

    @admin.display(description="error")
    def error_summary(self, run):
        return run.error if len(run.error) <= 120 else f"{run.error[:119]}…"

    @admin.display(description="rejections")
    def rejections_pretty(self, run):
        return pretty_json(run.rejections)


@admin.register(UpstreamEvent)
class UpstreamEventAdmin(ReadOnlyAdmin):
    list_display = ("recorded_at", "kind", "server", "version_string", "old_status", "new_status", "upstream_at",
                    "status_message", "sync_run")
    list_select_related = ("server", "version", "sync_run")
    list_filter = ("kind", "new_status")
    search_fields = ("server__name",)
    search_help_text = "Search by server name."
    date_hierarchy = "recorded_at"
    fields = ("recorded_at", "kind", "server", "version", "old_status", "new_status", "upstream_at", "status_message",
              "sync_run", "previous_server_json_pretty")
    readonly_fields = fields

    @admin.display(description="version", ordering="version__version")
    def version_string(self, event):
        return event.version.version if event.version else "—"

    def get_queryset(self, request):
        # No list column shows a server.json text: leave them in the database.
        return super().get_queryset(request).select_related("version").defer(
            "previous_server_json", "version__server_json", "version__document")

    @admin.display(description="previous server.json")
    def previous_server_json_pretty(self, event):
        return pretty_json(event.previous_server_json) if event.previous_server_json else "—"


@admin.register(SchemaDocument)
class SchemaDocumentAdmin(ReadOnlyAdmin):
    """The cached official schemas. Deleting one (with the permission) makes the next sync fetch it again."""

    list_display = ("url", "fetched_at")
    fieldsets = ((None, {"fields": ("url", "fetched_at", "body_pretty")}),)
    readonly_fields = ("url", "fetched_at", "body_pretty")

    @admin.display(description="schema")
    def body_pretty(self, document):
        return pretty_json(document.body)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("mirror.delete_schemadocument")
