"""The curator and auditor admin: decisions, org `_meta`, policies and the audit trail.

Upstream text is untrusted: every value shown here goes through `format_html` or template
auto-escaping, never `mark_safe`.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Greatest
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import smart_split, unescape_string_literal

from curation import export, selectors, services
from curation.admin_display import badge, curation_of, http_link, is_served, state_of, version_policy_of
from curation.choices import REGISTRY_TYPES, AuditAction, AuditSource, CurationState, VersionPolicy
from curation.forms import (
    DECISION_LABELS,
    BulkDecisionForm,
    DecisionForm,
    MetaForm,
    PolicyForm,
    ReasonForm,
    VersionPolicyForm,
)
from curation.models import AuditEvent, Policy, timestamp_text
from mirror.admin import MissingUpstreamFilter, ServerStatusFilter, pretty_json
from mirror.admin import ServerAdmin as MirrorServerAdmin
from mirror.admin import ServerVersionAdmin as MirrorServerVersionAdmin
from mirror.models import Server, ServerVersion
from registry_project.admin import RegistryModelAdmin

DECIDE_PERMISSION = "curation.decide_server"
SERVER_META_PERMISSION = "curation.change_servercuration"
VERSION_META_PERMISSION = "curation.change_versioncuration"
EXPORT_PERMISSION = "curation.export_auditevent"
AUDIT_VIEW_PERMISSION = "curation.view_auditevent"
REVIEW_QUEUE_LIMIT = 200
# Their events name the rule only in `before` and `after`.
POLICY_RULE_ACTIONS = (AuditAction.POLICY_CREATED, AuditAction.POLICY_UPDATED, AuditAction.POLICY_DELETED)
# The actor filter links this many names (people first); every name stays reachable through its text box.
ACTOR_LINKS_LIMIT = 100


def audit_url_of(server_name: str, version: str | None = None) -> str:
    """The audit trail filtered to one server, or to one of its versions."""
    query = {"server_name": server_name, **({"version": version} if version is not None else {})}
    return reverse("admin:curation_auditevent_changelist") + "?" + urlencode(query)


def reason_page(request, model_admin, *, title, intro, preview, total, form, cancel_url, for_action=False):
    """The page that asks for the reason recorded in the audit trail before acting on rows.

    `for_action`: it is a changelist action's intermediate page, which re-posts the action and its selection.
    """
    return TemplateResponse(request, "admin/curation/reason_confirm.html", {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "intro": intro,
        "preview": preview,
        "total": total,
        "form": form,
        "cancel_url": cancel_url,
        "action_fields": {"action": request.POST.get("action", ""),
                          "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                          "select_across": request.POST.get("select_across", "0")} if for_action else None,
        "media": model_admin.media,
    })

# --- Server list filters ----------------------------------------------------------------------

class CurationStateFilter(admin.SimpleListFilter):
    title = "curation state"
    parameter_name = "curation_state"

    def lookups(self, request, model_admin):
        return CurationState.choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == CurationState.PENDING:
            return queryset.filter(Q(curation__isnull=True) | Q(curation__state=CurationState.PENDING))
        if value in (CurationState.APPROVED, CurationState.BLOCKED):
            return queryset.filter(curation__state=value)
        return queryset


class PackageTypeFilter(admin.SimpleListFilter):
    title = "package type"
    parameter_name = "package_type"

    def lookups(self, request, model_admin):
        return [(kind, kind) for kind in REGISTRY_TYPES]

    def queryset(self, request, queryset):
        if self.value() in REGISTRY_TYPES:
            return queryset.filter(selectors.package_type_rule(document="latest_version__document",
                                                               registry_type=self.value()))
        return queryset


class DeploymentFilter(admin.SimpleListFilter):
    title = "remote or local"
    parameter_name = "deployment"

    def lookups(self, request, model_admin):
        return [("remote", "Remote endpoint"), ("local", "Local only (packages, no remote)")]

    def queryset(self, request, queryset):
        has_remote = selectors.remote_rule(document="latest_version__document")
        if self.value() == "remote":
            return queryset.filter(has_remote)
        if self.value() == "local":
            return queryset.filter(selectors.local_rule(document="latest_version__document")).exclude(has_remote)
        return queryset


class RecentlyChangedFilter(admin.SimpleListFilter):
    title = "last change"
    parameter_name = "changed"

    def lookups(self, request, model_admin):
        return [("7d", "In the last 7 days")]

    def queryset(self, request, queryset):
        if self.value() != "7d":
            return queryset
        since = timezone.now() - timedelta(days=7)
        version_changed = ServerVersion.objects.filter(server=OuterRef("pk"), changed_at__gte=since)
        return queryset.filter(Exists(version_changed) | Q(curation__decided_at__gte=since))


# --- Servers ----------------------------------------------------------------------------------

def version_decide_links(version, *, back_to: str | None = None) -> list[tuple[str, str]]:
    """(url, label) of the version's decision form, preset to approve, block or reset; after deciding, the
    form returns to `back_to` (an admin path) instead of the server's page."""
    decide = reverse("admin:mirror_server_version_decide", args=[version.server_id, version.pk])
    return [(f"{decide}?{urlencode({'state': state, **({'next': back_to} if back_to else {})})}", label)
            for state, label in ((CurationState.APPROVED, "Approve…"), (CurationState.BLOCKED, "Block…"),
                                 (CurationState.PENDING, "Reset…"))]


def _safe_next(request) -> str | None:
    """The `next` a decision form was opened with, if it points back into this site."""
    target = request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return None


class ServerVersionInline(admin.TabularInline):
    model = ServerVersion
    verbose_name = "version"
    verbose_name_plural = "versions (newest first): each has its own decision"
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-published_at", "-id")
    base_fields = ("version", "status_badge", "is_latest", "published_at", "changed_at", "curation_badge",
                   "decided", "has_meta")
    readonly_fields = (*base_fields, "version_actions")

    def get_fields(self, request, obj=None):
        if request.user.has_perm(DECIDE_PERMISSION):
            return (*self.base_fields, "version_actions")
        return self.base_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("server", "curation").defer("server_json", "document")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="upstream status")
    def status_badge(self, version):
        return badge(version.status)

    @admin.display(description="own decision")
    def curation_badge(self, version):
        return badge(state_of(version))

    @admin.display(description="decided")
    def decided(self, version):
        curation = curation_of(version)
        if not curation or not curation.decided_at:
            return "—"
        return format_html("{} by {}<br><small>{}</small>", timestamp_text(curation.decided_at),
                           curation.decided_by_name, curation.reason)

    @admin.display(description="org _meta", boolean=True)
    def has_meta(self, version):
        curation = curation_of(version)
        return bool(curation and curation.meta)

    @admin.display(description="actions")
    def version_actions(self, version):
        meta = reverse("admin:mirror_server_version_meta", args=[version.server_id, version.pk])
        links = [*version_decide_links(version), (meta, "Edit _meta…")]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)


admin.site.unregister(Server)


@admin.register(Server)
class ServerAdmin(MirrorServerAdmin):
    list_display = ("name", "title", "latest_version_display", "upstream_status", "curation_state", "last_change",
                    "repository")
    list_display_links = ("name",)
    list_select_related = ("latest_version", "curation")
    list_filter = (CurationStateFilter, ServerStatusFilter, PackageTypeFilter, DeploymentFilter,
                   MissingUpstreamFilter, RecentlyChangedFilter)
    search_fields = ("name",)
    search_help_text = "Search by name, title or description (every word must match)."
    list_per_page = 50
    actions = (*(MirrorServerAdmin.actions or ()), "approve_selected", "block_selected", "reset_selected")
    inlines = (ServerVersionInline,)
    change_form_template = "admin/curation/server/change_form.html"
    fieldsets = (
        (None, {"fields": ("name", "title", "description", "repository_url", "website_url",
                           "latest_version_display", "upstream_status", "curation_state")}),
        ("Mirror", {"fields": ("first_seen_at", "last_seen_at", "missing_upstream_since")}),
        ("Upstream server.json (latest version, read-only)", {"fields": ("upstream_json",)}),
    )
    readonly_fields = ("name", "title", "description", "repository_url", "website_url", "latest_version_display",
                       "upstream_status", "curation_state", "first_seen_at", "last_seen_at",
                       "missing_upstream_since", "upstream_json")

    def get_queryset(self, request):
        newest_change = ServerVersion.objects.filter(server=OuterRef("pk")).order_by("-changed_at").values(
            "changed_at")[:1]
        return (
            super().get_queryset(request)
            .select_related("latest_version", "curation")
            .defer("latest_version__document")
            .annotate(
                title=KeyTextTransform("title", "latest_version__document"),
                description=KeyTextTransform("description", "latest_version__document"),
                repository_url=KeyTextTransform("url", KeyTransform("repository", "latest_version__document")),
                # PostgreSQL's GREATEST ignores NULLs: a server never decided on sorts by its versions.
                last_change=Greatest(Subquery(newest_change), "curation__decided_at"),
            )
        )

    def get_search_results(self, request, queryset, search_term):
        for word in search_term.split():
            queryset = queryset.filter(
                Q(name__icontains=word) | Q(title__icontains=word) | Q(description__icontains=word)
            )
        return queryset, False

    # Upstream data stays read-only (the mirror's admin); decisions go through the dedicated forms below.
    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERMISSION)

    # --- columns ---

    @admin.display(description="title", ordering="title")
    def title(self, server):
        return server.title or "—"

    @admin.display(description="description")
    def description(self, server):
        return server.description or "—"

    @admin.display(description="upstream status", ordering="latest_version__status")
    def upstream_status(self, server):
        return badge(server.latest_version.status if server.latest_version else "")

    @admin.display(description="curation state", ordering="curation__state")
    def curation_state(self, server):
        return badge(state_of(server))

    @admin.display(description="last change", ordering="last_change")
    def last_change(self, server):
        return server.last_change

    @admin.display(description="repository")
    def repository(self, server):
        return http_link(server.repository_url, "repository ↗")

    @admin.display(description="repository")
    def repository_url(self, server):
        return http_link(server.repository_url)

    @admin.display(description="website")
    def website_url(self, server):
        return http_link(self._document(server).get("websiteUrl"))

    @admin.display(description="server.json")
    def upstream_json(self, server):
        return pretty_json(server.latest_version.server_json) if server.latest_version else "—"

    @staticmethod
    def _document(server) -> dict:
        if not server.latest_version:
            return {}
        document = server.latest_version.document
        return document if isinstance(document, dict) else {}

    # --- bulk actions ---

    @admin.action(description="Approve selected servers…", permissions=["decide"])
    def approve_selected(self, request, queryset):
        return self._decide_bulk(request, queryset, CurationState.APPROVED)

    @admin.action(description="Block selected servers…", permissions=["decide"])
    def block_selected(self, request, queryset):
        return self._decide_bulk(request, queryset, CurationState.BLOCKED)

    @admin.action(description="Reset selected servers to pending…", permissions=["decide"])
    def reset_selected(self, request, queryset):
        return self._decide_bulk(request, queryset, CurationState.PENDING)

    def _decide_bulk(self, request, queryset, state):
        """Ask for a reason on an intermediate page, then decide every selected server in one service call."""
        form = BulkDecisionForm(request.POST if "confirm" in request.POST else None,
                                initial={"shown_at": timezone.now()})
        total = queryset.count()
        if form.is_valid():
            servers = Server.objects.filter(pk__in=queryset.values("pk"))
            try:
                changed = services.servers_decide_bulk(
                    servers=servers, state=state, reason=form.cleaned_data["reason"], actor=request.user,
                    source=AuditSource.ADMIN, decided_before=form.cleaned_data["shown_at"],
                )
            except services.DecisionsChanged as error:
                # Keep the reason; confirming again decides from the states shown now.
                form = BulkDecisionForm({"reason": form.cleaned_data["reason"], "shown_at": timezone.now()})
                form.is_valid()
                form.add_error(None, error)
            else:
                label = CurationState(state).label.lower()
                unchanged = total - changed
                message = f"{changed} of {total} selected server{'s' if total != 1 else ''} set to {label}."
                if unchanged:
                    message += f" {unchanged} already were {label}."
                self.message_user(request, message, messages.SUCCESS if changed else messages.INFO)
                return None
        return reason_page(
            request, self,
            title=f"{DECISION_LABELS[state]}: {total} server{'s' if total != 1 else ''}",
            intro="This records one decision per server in the audit trail. Servers already in that state are left "
                  "as they are.",
            preview=[f"{name} (now {CurationState(current or CurationState.PENDING).label.lower()})" for name, current
                     in queryset.order_by("name").values_list("name", "curation__state")[:25]],
            total=total, form=form,
            cancel_url=reverse("admin:mirror_server_changelist"), for_action=True,
        )

    # --- per-object views ---

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("review-queue/", wrap(self.review_queue_view), name="mirror_server_review_queue"),
            path("<int:server_id>/decide/", wrap(self.decide_view), name="mirror_server_decide"),
            path("<int:server_id>/version-policy/", wrap(self.version_policy_view),
                 name="mirror_server_version_policy"),
            path("<int:server_id>/meta/", wrap(self.meta_view), name="mirror_server_meta"),
            path("<int:server_id>/versions/<int:version_id>/decide/", wrap(self.decide_view),
                 name="mirror_server_version_decide"),
            path("<int:server_id>/versions/<int:version_id>/meta/", wrap(self.meta_view),
                 name="mirror_server_version_meta"),
            *super().get_urls(),
        ]

    def _target(self, request, server_id, version_id=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        server = get_object_or_404(Server.objects.select_related("latest_version", "curation"), pk=server_id)
        version = None
        if version_id is not None:
            version = get_object_or_404(ServerVersion.objects.select_related("curation"), pk=version_id,
                                        server=server)
        return server, version

    def _render(self, request, template, server, version, title, **context):
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "server": server,
            "version": version,
            "server_url": reverse("admin:mirror_server_change", args=[server.pk]),
            **context,
        })

    def decide_view(self, request, server_id, version_id=None):
        server, version = self._target(request, server_id, version_id)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        target = version or server
        current = curation_of(target)
        if request.method == "POST":
            form = DecisionForm(request.POST)
            if form.is_valid():
                state, reason = form.cleaned_data["state"], form.cleaned_data["reason"]
                if version:
                    service = {CurationState.APPROVED: services.version_approve,
                               CurationState.BLOCKED: services.version_block,
                               CurationState.PENDING: services.version_reset}[state]
                    kwargs = {"version": version}
                else:
                    service = {CurationState.APPROVED: services.server_approve,
                               CurationState.BLOCKED: services.server_block,
                               CurationState.PENDING: services.server_reset}[state]
                    kwargs = {"server": server}
                try:
                    changed = service(**kwargs, reason=reason, actor=request.user, source=AuditSource.ADMIN,
                                      expected_state=form.cleaned_data["expected_state"] or None)
                except services.DecisionChanged as error:
                    # Keep the curator's input; from now on the form expects the state they are shown.
                    current = error.curation
                    form = DecisionForm({**request.POST.dict(), "expected_state": current.state})
                    form.is_valid()
                    form.add_error(None, error)
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    label = CurationState(state).label.lower()
                    what = f"Version {version.version} of {server.name}" if version else f"Server {server.name}"
                    if changed:
                        self.message_user(request, f"{what} is now {label}.", messages.SUCCESS)
                    else:
                        self.message_user(request, f"{what} already was {label}; nothing changed.", messages.INFO)
                    return HttpResponseRedirect(_safe_next(request) or reverse("admin:mirror_server_change",
                                                                               args=[server.pk]))
        else:
            requested = request.GET.get("state")
            form = DecisionForm(initial={"state": requested if requested in CurationState.values else None,
                                         "expected_state": state_of(target)})
        title = f"Decide on {server.name}" + (f" version {version.version}" if version else "")
        return self._render(request, "admin/curation/server/decide.html", server, version, title,
                            form=form, action_url=request.get_full_path(),
                            current_state=current.state if current else CurationState.PENDING, current=current,
                            version_json=pretty_json(version.server_json) if version else None)

    def version_policy_view(self, request, server_id):
        server, _ = self._target(request, server_id)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        curation = curation_of(server)
        if request.method == "POST":
            form = VersionPolicyForm(request.POST)
            if form.is_valid():
                try:
                    changed = services.server_set_version_policy(
                        server=server, policy=form.cleaned_data["policy"], reason=form.cleaned_data["reason"],
                        actor=request.user, source=AuditSource.ADMIN,
                    )
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    label = VersionPolicy(form.cleaned_data["policy"]).label
                    if changed:
                        self.message_user(request, f"Version policy of {server.name} is now “{label}”.",
                                          messages.SUCCESS)
                    else:
                        self.message_user(request, f"Version policy of {server.name} already was “{label}”; "
                                          "nothing changed.", messages.INFO)
                    return HttpResponseRedirect(reverse("admin:mirror_server_change", args=[server.pk]))
        else:
            form = VersionPolicyForm(initial={"policy": version_policy_of(server)})
        return self._render(request, "admin/curation/server/version_policy.html", server, None,
                            f"Version policy of {server.name}", form=form)

    def meta_view(self, request, server_id, version_id=None):
        server, version = self._target(request, server_id, version_id)
        if not request.user.has_perm(VERSION_META_PERMISSION if version_id else SERVER_META_PERMISSION):
            raise PermissionDenied
        target = version or server
        if request.method == "POST":
            form = MetaForm(request.POST)
            if form.is_valid():
                try:
                    changed = services.meta_update(server=server, version=version, meta=form.cleaned_data["meta"],
                                                   reason=form.cleaned_data["reason"], actor=request.user,
                                                   source=AuditSource.ADMIN,
                                                   expected_meta=form.cleaned_data["expected_meta"])
                except services.MetaChanged as error:
                    # Keep the curator's input; from now on the form expects the metadata stored now.
                    current = MetaForm.initial_text(error.curation.meta)["expected_meta"]
                    form = MetaForm({**request.POST.dict(), "expected_meta": current})
                    form.is_valid()
                    form.add_error(None, error)
                except ValidationError as error:
                    form.add_error("meta", ValidationError(error.messages))
                else:
                    what = f"{server.name} {version.version}" if version else server.name
                    self.message_user(request, f"Organisation metadata of {what} "
                                      + ("saved." if changed else "unchanged."),
                                      messages.SUCCESS if changed else messages.INFO)
                    return HttpResponseRedirect(reverse("admin:mirror_server_change", args=[server.pk]))
        else:
            curation = curation_of(target)
            form = MetaForm(initial=MetaForm.initial_text(curation.meta if curation else {}))
        title = f"Organisation metadata of {server.name}" + (f" version {version.version}" if version else "")
        return self._render(request, "admin/curation/server/meta.html", server, version, title, form=form)

    def review_queue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        queue = selectors.review_queue()
        servers = list(queue.servers[:REVIEW_QUEUE_LIMIT + 1])
        versions = [curation.version for curation in queue.versions[:REVIEW_QUEUE_LIMIT + 1]]
        return TemplateResponse(request, "admin/curation/review_queue.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Review queue",
            "servers": servers[:REVIEW_QUEUE_LIMIT],
            "servers_more": len(servers) > REVIEW_QUEUE_LIMIT,
            "versions": versions[:REVIEW_QUEUE_LIMIT],
            "versions_more": len(versions) > REVIEW_QUEUE_LIMIT,
            "can_decide": self.has_decide_permission(request),
        })

    def change_view(self, request, object_id, form_url="", extra_context=None):
        server = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if server is not None:
            curation = curation_of(server)
            can_view_audit = request.user.has_perm(AUDIT_VIEW_PERMISSION)
            current_state, version_policy = state_of(server), version_policy_of(server)
            context.update(
                curation=curation,
                current_state=current_state,
                can_decide=self.has_decide_permission(request),
                can_edit_meta=request.user.has_perm(SERVER_META_PERMISSION),
                # One page, three forms, each with a `reason`: ids of their own, so each label names its field.
                decision_form=DecisionForm(initial={"expected_state": current_state}, auto_id="decision_%s"),
                version_policy=version_policy,
                policy_form=VersionPolicyForm(initial={"policy": version_policy}, auto_id="policy_%s"),
                meta_form=MetaForm(initial=MetaForm.initial_text(curation.meta if curation else {}), auto_id="meta_%s"),
                meta_json=pretty_json(curation.meta if curation else {}),
                can_view_audit=can_view_audit,
                audit_events=(AuditEvent.objects.filter(server_name=server.name).defer("before", "after")[:50]
                              if can_view_audit else ()),
                audit_url=audit_url_of(server.name),
            )
        return super().change_view(request, object_id, form_url, extra_context=context)


# --- Versions ---------------------------------------------------------------------------------

class VersionDecisionFilter(CurationStateFilter):
    title = "version decision"


class ServedFilter(admin.SimpleListFilter):
    title = "served to clients"
    parameter_name = "served"

    def lookups(self, request, model_admin):
        return (("yes", "Served"), ("no", "Not served"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return selectors.versions_by_served(queryset, served=self.value() == "yes")
        return queryset


admin.site.unregister(ServerVersion)


@admin.register(ServerVersion)
class ServerVersionAdmin(MirrorServerVersionAdmin):
    """The mirror's read-only version pages, plus each version's decision and whether clients get it.

    A version can be approved yet not served (its server is not approved, it is deleted upstream), or
    pending and served (its server is approved for all versions): hence both, and the server's decision.
    Decisions are made on the server's page and its per-version decision form, linked from here.
    """

    list_display = ("server_name", "version", "status", "version_decision", "server_decision", "served",
                    "is_latest", "published_at", "upstream_updated_at", "changed_at", "last_seen_at")
    list_filter = (VersionDecisionFilter, ServedFilter, *MirrorServerVersionAdmin.list_filter)
    curation_fields = ("version_decision", "decision_reason", "decided_by", "decided_at", "server_decision",
                       "server_version_policy", "served", "server_curation_link")
    readonly_fields = (*MirrorServerVersionAdmin.readonly_fields, *curation_fields, "decide_links")
    change_form_template = "admin/curation/serverversion/change_form.html"

    def get_queryset(self, request):
        return selectors.versions_with_decisions(super().get_queryset(request))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.user.has_perm(AUDIT_VIEW_PERMISSION):
            context["audit_url"] = audit_url_of(obj.server.name, obj.version)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def get_fieldsets(self, request, obj=None):
        upstream, *mirror = super().get_fieldsets(request, obj)
        decide = ("decide_links",) if request.user.has_perm(DECIDE_PERMISSION) else ()
        return (upstream, ("Curation", {"fields": (*self.curation_fields, *decide)}), *mirror)

    @admin.display(description="version decision", ordering="curation__state")
    def version_decision(self, version):
        return badge(state_of(version))

    @admin.display(description="server decision", ordering="server__curation__state")
    def server_decision(self, version):
        return badge(state_of(version.server))

    @admin.display(description="served", boolean=True, ordering="listing__is_served")
    def served(self, version):
        return is_served(version)

    @admin.display(description="reason")
    def decision_reason(self, version):
        curation = curation_of(version)
        return curation.reason if curation and curation.reason else "—"

    @admin.display(description="decided by")
    def decided_by(self, version):
        curation = curation_of(version)
        return curation.decided_by_name if curation and curation.decided_by_name else "—"

    @admin.display(description="decided at")
    def decided_at(self, version):
        curation = curation_of(version)
        return timestamp_text(curation.decided_at) if curation and curation.decided_at else "—"

    @admin.display(description="server's version policy")
    def server_version_policy(self, version):
        return version_policy_of(version.server).label

    @admin.display(description="curation page")
    def server_curation_link(self, version):
        url = reverse("admin:mirror_server_change", args=[version.server_id])
        return format_html('<a href="{}">{}: decisions on the server and its versions</a>', url,
                           version.server.name)

    @admin.display(description="decide this version")
    def decide_links(self, version):
        back_to = reverse("admin:mirror_serverversion_change", args=[version.pk])
        return format_html_join(" · ", '<a href="{}">{}</a>', version_decide_links(version, back_to=back_to))


# --- Audit trail ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DateRange:
    """The days of `?at__gte=YYYY-MM-DD&at__lte=YYYY-MM-DD`, both inclusive, and what is wrong with them."""

    since: date | None
    until: date | None
    malformed: tuple[str, ...]

    @classmethod
    def read(cls, since: str | None, until: str | None) -> "DateRange":
        days, malformed = [], []
        for raw in (since, until):
            try:
                days.append(date.fromisoformat(raw) if raw else None)
            except ValueError:
                days.append(None)
                malformed.append(raw)
        return cls(since=days[0], until=days[1], malformed=tuple(malformed))

    @property
    def is_reversed(self) -> bool:
        return bool(self.since and self.until and self.since > self.until)

    def list_warnings(self) -> list[str]:
        """What the list says while it shows events despite the dates."""
        warnings = [f"Ignored the date “{raw}”: use the form YYYY-MM-DD." for raw in self.malformed]
        if self.is_reversed:
            warnings.append(f"The date range runs backwards, from {self.since} to {self.until}, so no event can "
                            "match: swap the dates.")
        return warnings

    def export_refusal(self) -> str:
        """Why an export is refused rather than holding other events than the auditor asked for; '' if it is not."""
        problems = [f"“{raw}” is not a date of the form YYYY-MM-DD" for raw in self.malformed]
        if self.is_reversed:
            problems.append(f"the date range runs backwards, from {self.since} to {self.until}")
        return f"Nothing exported: {'; '.join(problems)}. Correct the dates and export again." if problems else ""


class AtDateRangeFilter(admin.FieldListFilter):
    """Two date inputs (`?at__gte=YYYY-MM-DD&at__lte=YYYY-MM-DD`), both days inclusive."""

    template = "admin/curation/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_since = f"{field_path}__gte"
        self.lookup_until = f"{field_path}__lte"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = "date range"

    def expected_parameters(self):
        return [self.lookup_since, self.lookup_until]

    def queryset(self, request, queryset):
        days = DateRange.read(self.value(self.lookup_since), self.value(self.lookup_until))
        zone = timezone.get_current_timezone()
        if days.since:
            queryset = queryset.filter(**{self.lookup_since: datetime.combine(days.since, time.min, zone)})
        if days.until and days.until < date.max:  # the last representable day has no next day, and nothing is later
            next_day = datetime.combine(days.until + timedelta(days=1), time.min, zone)
            queryset = queryset.filter(**{f"{self.field_path}__lt": next_day})
        return queryset

    def value(self, name):
        values = self.used_parameters.get(name)
        return (values[-1] if isinstance(values, list) and values else values) or ""

    def choices(self, changelist):
        yield {
            "selected": not (self.value(self.lookup_since) or self.value(self.lookup_until)),
            "query_string": changelist.get_query_string(remove=[self.lookup_since, self.lookup_until]),
            "display": "Any date",
            "since_name": self.lookup_since,
            "since": self.value(self.lookup_since),
            "until_name": self.lookup_until,
            "until": self.value(self.lookup_until),
            "hidden": _other_parameters(self.request, self.expected_parameters()),
        }


def _other_parameters(request, names) -> list[tuple[str, str]]:
    """The query string minus these names and paging: hidden inputs that keep the other filters of a GET form."""
    return [(key, value) for key, values in request.GET.lists() for value in values
            if key not in (*names, "p", "e")]


class ServerNameFilter(admin.SimpleListFilter):
    """Set by the links to one server's events; too many servers to list, so it shows only while set."""

    title = "server"
    parameter_name = "server_name"

    def lookups(self, request, model_admin):
        return [(self.value(), self.value())] if self.value() else []

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(server_name=self.value())
        return queryset


class ActorFilter(admin.SimpleListFilter):
    """Every actor, however many: a text box suggesting every name, and links to the first names.

    The links list people first, then the registry's own actors (sync, cli), then policy rules.
    """

    title = "actor"
    parameter_name = "actor_name"
    template = "admin/curation/actor_filter.html"

    def lookups(self, request, model_admin):
        return [(name, name) for name in selectors.audit_actor_names()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(actor_name=self.value())
        return queryset

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        links, names = choices[:ACTOR_LINKS_LIMIT + 1], [choice["display"] for choice in choices[1:]]
        yield {
            "links": links,
            "unlisted": len(names) - (len(links) - 1),
            "names": names,
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "hidden": _other_parameters(self.request, [self.parameter_name]),
        }


@admin.register(AuditEvent)
class AuditEventAdmin(RegistryModelAdmin):
    list_display = ("when", "actor_name", "source", "action", "server_link", "version", "short_reason")
    list_filter = (ServerNameFilter, "action", ActorFilter, "source", ("at", AtDateRangeFilter))
    search_fields = ("server_name", "reason", "actor_name", "version", "action")
    search_help_text = ("Search server names, reasons, actors, versions, policy rule names and actions (e.g. "
                        "“blocked”); every word must match, \"quote a phrase\".")
    list_per_page = 100
    show_full_result_count = False
    actions = ("export_csv", "export_jsonl")
    change_list_template = "admin/curation/auditevent/change_list.html"
    change_form_template = "admin/curation/auditevent/change_form.html"
    fields = ("when", "actor_name", "actor", "source", "action", "server_link", "version", "reason", "before_json",
              "after_json")
    readonly_fields = (*fields, "actor_account")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def get_fields(self, request, obj=None):
        # Django links the actor to the user admin whatever the viewer may see there; auditors get a 403.
        if self._may_view_users(request):
            return self.fields
        return tuple("actor_account" if name == "actor" else name for name in self.fields)

    def _may_view_users(self, request) -> bool:
        user_model = get_user_model()
        return self.admin_site.is_registered(user_model) and \
            self.admin_site.get_model_admin(user_model).has_view_permission(request)

    def get_search_results(self, request, queryset, search_term):
        """Every word must match a text column, a policy rule's name, or an action's code or label ("blocked")."""
        for word in smart_split(search_term):
            if word.startswith(('"', "'")) and word[0] == word[-1]:
                word = unescape_string_literal(word)
            lowered = word.lower()
            matching_actions = [code for code, label in AuditAction.choices
                                if lowered in code or lowered in label.lower()]
            rule_named = Q(before__name__icontains=word) | Q(after__name__icontains=word)
            queryset = queryset.filter(
                Q(server_name__icontains=word) | Q(reason__icontains=word) | Q(actor_name__icontains=word)
                | Q(version__icontains=word) | Q(action__in=matching_actions)
                | (Q(action__in=POLICY_RULE_ACTIONS) & rule_named)
            )
        return queryset, False

    # Append-only: nobody changes or deletes audit rows here (the database refuses it too).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_export_permission(self, request):
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin.display(description="when", ordering="at")
    def when(self, event):
        return format_html('<span class="registry-nowrap">{}</span>', timestamp_text(event.at))

    @admin.display(description="actor (user account)")
    def actor_account(self, event):
        return event.actor.get_username() if event.actor else "—"

    @admin.display(description="server", ordering="server_name")
    def server_link(self, event):
        if not event.server_name:
            return "—"
        return format_html('<a href="{}" title="Every event of this server">{}</a>', audit_url_of(event.server_name),
                           event.server_name)

    @admin.display(description="reason")
    def short_reason(self, event):
        return event.reason if len(event.reason) <= 80 else event.reason[:79] + "…"

    @admin.display(description="before")
    def before_json(self, event):
        return pretty_json(event.before)

    @admin.display(description="after")
    def after_json(self, event):
        return pretty_json(event.after)

    @admin.action(description="Export selected events as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        return export.audit_csv_response(queryset)

    @admin.action(description="Export selected events as JSON Lines", permissions=["export"])
    def export_jsonl(self, request, queryset):
        return export.audit_jsonl_response(queryset)

    def get_urls(self):
        return [
            path("export/<str:fmt>/", self.admin_site.admin_view(self.export_view),
                 name="curation_auditevent_export"),
            *super().get_urls(),
        ]

    @staticmethod
    def _date_range(request) -> DateRange:
        return DateRange.read(request.GET.get("at__gte"), request.GET.get("at__lte"))

    def export_view(self, request, fmt):
        """Export every event the changelist currently shows (its filters and search), unpaginated."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        writers = {"csv": export.audit_csv_response, "jsonl": export.audit_jsonl_response}
        if fmt not in writers:
            return HttpResponseBadRequest("Unknown export format: use csv or jsonl.")
        refusal = self._date_range(request).export_refusal()
        if refusal:
            return HttpResponseBadRequest(refusal)
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter in the query string.")
        return writers[fmt](queryset)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            for warning in self._date_range(request).list_warnings():
                messages.warning(request, warning)
        context = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context=context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        event = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {}),
                   "server_history_url": audit_url_of(event.server_name) if event and event.server_name else ""}
        return super().change_view(request, object_id, form_url, extra_context=context)


# --- Policies ---------------------------------------------------------------------------------

POLICY_DELETE_INTRO = ("Servers and versions it already decided keep their decisions; newly discovered ones are no "
                       "longer matched against it. The deletion and its reason are recorded in the audit trail.")


@admin.register(Policy)
class PolicyAdmin(RegistryModelAdmin):
    form = PolicyForm
    list_display = ("name", "priority", "enabled", "effect", "name_glob", "registry_type", "identifier_glob",
                    "remote_host", "updated_at")
    list_display_links = ("name",)
    list_filter = ("enabled", "effect", "registry_type")
    search_fields = ("name", "name_glob", "identifier_glob", "remote_host")
    ordering = ("priority", "name")
    actions = ("delete_selected_rules",)
    fieldsets = (
        (None, {"fields": ("name", "priority", "enabled", "effect")}),
        ("Match (all non-empty matchers must match)", {"fields": ("name_glob", "registry_type", "identifier_glob",
                                                                  "remote_host")}),
        ("Audit trail", {"fields": ("reason", "expected_updated_at")}),
    )

    def save_model(self, request, obj, form, change):
        services.policy_save(policy=obj, reason=form.cleaned_data["reason"], actor=request.user,
                             source=AuditSource.ADMIN)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's own bulk delete cannot ask for the reason the audit trail records: see delete_selected_rules.
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        """Django's confirmation cannot ask for the reason the audit trail records; this page does."""
        policy = self.get_object(request, unquote(object_id))
        if policy is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_delete_permission(request, policy):
            raise PermissionDenied
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            self._delete_rules(request, [policy], reason=form.cleaned_data["reason"])
            self.message_user(request, f"Deleted the policy rule “{policy.name}”.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:curation_policy_changelist"))
        return reason_page(request, self, title=f"Delete the policy rule “{policy.name}”", intro=POLICY_DELETE_INTRO,
                           preview=[policy.name], total=1, form=form,
                           cancel_url=reverse("admin:curation_policy_change", args=[policy.pk]))

    @admin.action(description="Delete selected policy rules…", permissions=["delete"])
    def delete_selected_rules(self, request, queryset):
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            rules = list(queryset)
            self._delete_rules(request, rules, reason=form.cleaned_data["reason"])
            self.message_user(request, f"Deleted {len(rules)} policy rule{'s' if len(rules) != 1 else ''}.",
                              messages.SUCCESS)
            return None
        total = queryset.count()
        return reason_page(request, self, title=f"Delete {total} policy rule{'s' if total != 1 else ''}",
                           intro=POLICY_DELETE_INTRO, preview=list(queryset.values_list("name", flat=True)[:25]),
                           total=total, form=form, cancel_url=reverse("admin:curation_policy_changelist"),
                           for_action=True)

    @transaction.atomic
    def _delete_rules(self, request, rules: list[Policy], *, reason: str) -> None:
        self.log_deletions(request, rules)  # Django's own history and "Recent actions", as its delete views do
        for policy in rules:
            services.policy_delete(policy=policy, reason=reason, actor=request.user, source=AuditSource.ADMIN)
