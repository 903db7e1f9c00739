import json

import pytest
from django.contrib.auth.models import Permission, User

from mirror.models import Server
from tests.api.catalog_helpers import make_server
from curation.choices import CurationState

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/mirror/server/"


def staff(username, *permissions):
    user = User.objects.create_user(username, password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


def post_action(client, action, servers):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [s.pk for s in servers]})


@pytest.mark.parametrize(("action", "key"), [
    ("export_allowlist_vscode", "chat.mcp.allowedServers"),
    ("export_allowlist_copilot", "allowedMcpServers"),
])
def test_viewer_downloads_the_allowlist_of_the_selected_approved_servers(client, action, key):
    weather = make_server("io.github.acme/weather")
    tides = make_server("io.github.acme/tides")
    pending = make_server("io.github.acme/pending", state=CurationState.PENDING)
    client.force_login(staff("auditor", "view_server"))

    response = post_action(client, action, [weather, pending])

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="mcp-allowlist-')
    matchers = json.loads(response.content)[key]
    names = [m["serverName"] for m in matchers if "serverName" in m]
    assert names == ["io.github.acme/weather"]
    assert tides.name not in response.content.decode()


def test_json_export_action(client):
    make_server("io.github.acme/weather")
    client.force_login(staff("auditor", "view_server"))
    response = post_action(client, "export_allowlist_json", Server.objects.all())
    assert json.loads(response.content)["count"] == 1


def test_staff_without_view_permission_cannot_export(client):
    server = make_server("io.github.acme/weather")
    client.force_login(staff("nobody"))
    response = post_action(client, "export_allowlist_json", [server])
    assert response.status_code == 403


def test_the_curators_actions_are_kept():
    from django.contrib import admin

    model_admin = admin.site._registry[Server]
    actions = {name for _, name, _ in model_admin._get_base_actions()}
    assert {"export_allowlist_vscode", "export_allowlist_copilot", "export_allowlist_json"} <= actions
    base = type(model_admin).__mro__[1]
    base_actions = {a if isinstance(a, str) else a.__name__ for a in (base.actions or [])}
    assert base_actions <= actions
