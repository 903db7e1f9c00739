from django import template

from curation import selectors
from curation.admin_display import badge
from mirror.selectors import sync_run_last

register = template.Library()


@register.simple_tag
def state_badge(value):
    """A coloured, escaped pill for a curation state or an upstream status."""
    return badge(value)


@register.inclusion_tag("admin/curation/includes/dashboard.html", takes_context=True)
def registry_dashboard(context):
    """The curation dashboard on the admin index; each block only for those allowed to see its data."""
    user = context["request"].user
    data = {"show_servers": user.has_perm("mirror.view_server"),
            "show_sync": user.has_perm("mirror.view_syncrun"),
            "show_audit": user.has_perm("curation.view_auditevent")}
    if data["show_servers"]:
        data["counts"] = selectors.curation_counts()
    if data["show_sync"]:
        data["sync_run"] = sync_run_last()
    if data["show_audit"]:
        data["audit_events"] = selectors.recent_audit_events(10)
    return data
