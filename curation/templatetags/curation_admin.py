from django import template

from curation import selectors
from curation.admin_display import badge
from curation.models import timestamp_text
from mirror.selectors import sync_run_last, sync_run_last_succeeded

register = template.Library()

DURATION_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


@register.simple_tag
def state_badge(value):
    """A coloured, escaped pill for a curation state or an upstream status."""
    return badge(value)


@register.filter
def timestamp(moment):
    """`2026-11-21 06:18:03 UTC`, in the active time zone; empty for no moment."""
    return timestamp_text(moment) if moment else ""


@register.filter
def duration_in_words(delta):
    """`30 seconds`, `1 minute`, `1 hour 30 minutes`: each whole unit that is not zero, largest first."""
    remaining = int(delta.total_seconds())
    parts = []
    for unit, seconds in DURATION_UNITS:
        count, remaining = divmod(remaining, seconds)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts)


@register.inclusion_tag("admin/curation/includes/dashboard.html", takes_context=True)
def registry_dashboard(context):
    """The curation dashboard on the admin index; each block only for those allowed to see its data."""
    user = context["request"].user
    data = {"show_servers": user.has_perm("mirror.view_server"),
            "show_sync": user.has_perm("mirror.view_syncrun"),
            "show_audit": user.has_perm("curation.view_auditevent")}
    if data["show_servers"]:
        data["counts"] = selectors.curation_counts()
        data["approved_changed"] = selectors.approved_servers_changed_upstream()
    if data["show_sync"]:
        data["sync_run"] = sync_run_last()
        data["last_success"] = sync_run_last_succeeded()
    if data["show_audit"]:
        data["audit_events"] = selectors.recent_audit_events(10)
    return data
