from datetime import datetime, timezone

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mirror.admin import ServerAdmin
from mirror.choices import SyncMode, SyncOutcome, UpstreamEventKind, UpstreamStatus
from mirror.models import SchemaDocument, Server, ServerVersion, SyncRun, UpstreamEvent
from tests.factories import ServerVersionFactory

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def staff_client(client):
    """Staff with view permissions on the mirror only: what an auditor gets."""
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="mirror",
                                                        codename__startswith="view_"))
    client.force_login(user)
    return client


@pytest.fixture
def data():
    hostile = ServerVersionFactory(server__name="io.github.evil/tool", version="1.0.0",
                                   extra={"description": HOSTILE}, status=UpstreamStatus.DEPRECATED,
                                   status_message=HOSTILE)
    plain = ServerVersionFactory(server__name="io.github.good/tool", version="2.0.0", is_latest=True)
    Server.objects.filter(pk=plain.server_id).update(latest_version=plain)
    Server.objects.filter(pk=hostile.server_id).update(latest_version=hostile)
    run = SyncRun.objects.create(mode=SyncMode.FULL, upstream_url="https://upstream.test",
                                 outcome=SyncOutcome.FAILED, error=HOSTILE,
                                 rejections=[{"name": HOSTILE, "version": "1", "reason": HOSTILE}])
    UpstreamEvent.objects.create(sync_run=run, kind=UpstreamEventKind.STATUS_CHANGED, server=hostile.server,
                                 version=hostile, old_status="active", new_status="deprecated",
                                 status_message=HOSTILE)
    SchemaDocument.objects.create(url="https://static.modelcontextprotocol.io/schemas/x/server.schema.json",
                                  body='{"title": "' + HOSTILE.replace('"', "'") + '"}')
    return hostile, plain, run


def assert_escaped(response):
    body = response.content.decode()
    assert response.status_code == 200
    assert HOSTILE not in body and "&lt;script&gt;" in body


def test_versions_list_filters_and_searches(staff_client, data, django_assert_max_num_queries):
    url = reverse("admin:mirror_serverversion_changelist")
    with django_assert_max_num_queries(12):
        response = staff_client.get(url)
    assert response.status_code == 200 and b"io.github.evil/tool" in response.content

    deprecated = staff_client.get(url, {"status__exact": "deprecated"}).content.decode()
    assert "io.github.evil/tool" in deprecated and "io.github.good/tool" not in deprecated
    found = staff_client.get(url, {"q": "good"}).content.decode()
    assert "io.github.good/tool" in found and "io.github.evil/tool" not in found


def test_version_page_shows_server_json_pretty_and_escaped(staff_client, data):
    hostile, _, _ = data
    response = staff_client.get(reverse("admin:mirror_serverversion_change", args=[hostile.pk]))
    assert_escaped(response)
    # Pretty-printed (indented) JSON, its text escaped.
    expected = '\n  &quot;description&quot;: &quot;&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;&quot;,\n'
    assert expected in response.content.decode()


@pytest.mark.parametrize("model", ["serverversion", "syncrun", "upstreamevent", "schemadocument"])
def test_mirrored_data_cannot_be_added_changed_or_deleted(client, data, model):
    user = User.objects.create_superuser("root", password="pw")
    client.force_login(user)
    assert client.get(reverse(f"admin:mirror_{model}_add")).status_code == 403
    obj = {"serverversion": data[0], "syncrun": data[2], "upstreamevent": UpstreamEvent.objects.get(),
           "schemadocument": SchemaDocument.objects.get()}[model]
    change = client.get(reverse(f"admin:mirror_{model}_change", args=[obj.pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content
    assert client.post(reverse(f"admin:mirror_{model}_change", args=[obj.pk]), {}).status_code == 403
    deletable = model == "schemadocument"
    assert (client.get(reverse(f"admin:mirror_{model}_delete", args=[obj.pk])).status_code == 200) is deletable


def test_sync_runs_and_events_are_listed_escaped(staff_client, data):
    _, _, run = data
    assert_escaped(staff_client.get(reverse("admin:mirror_syncrun_changelist")))
    assert_escaped(staff_client.get(reverse("admin:mirror_syncrun_change", args=[run.pk])))
    assert_escaped(staff_client.get(reverse("admin:mirror_upstreamevent_changelist")))
    assert staff_client.get(reverse("admin:mirror_schemadocument_changelist")).status_code == 200
    schema = SchemaDocument.objects.get()
    assert staff_client.get(reverse("admin:mirror_schemadocument_change", args=[schema.pk])).status_code == 200


def test_a_content_change_shows_the_replaced_server_json_pretty_and_escaped(staff_client, data):
    hostile, _, run = data
    event = UpstreamEvent.objects.create(sync_run=run, kind=UpstreamEventKind.CONTENT_CHANGED, server=hostile.server,
                                         version=hostile, previous_server_json=hostile.server_json)

    listed = staff_client.get(reverse("admin:mirror_upstreamevent_changelist"), {"kind__exact": "content_changed"})
    response = staff_client.get(reverse("admin:mirror_upstreamevent_change", args=[event.pk]))

    assert listed.status_code == 200 and "server.json changed" in listed.content.decode()
    assert_escaped(response)
    body = response.content.decode()
    assert "Previous server.json" in body
    assert '\n  &quot;description&quot;: &quot;&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;&quot;,\n' in body


def test_the_mirror_server_admin_lists_filters_and_searches(data, django_assert_max_num_queries):
    """Our ServerAdmin itself (curation registers a subclass of it on the site)."""
    hostile, plain, _ = data
    Server.objects.filter(pk=hostile.server_id).update(missing_upstream_since="2026-01-01T00:00Z")
    server_admin = ServerAdmin(Server, admin.site)
    superuser = User.objects.create_superuser("root", password="pw")

    def changelist(**query):
        request = RequestFactory().get("/admin/mirror/server/", query)
        request.user = superuser
        response = server_admin.changelist_view(request)
        return response.render().content.decode()

    with django_assert_max_num_queries(10):
        everything = changelist()
    assert "io.github.evil/tool" in everything and "io.github.good/tool" in everything
    missing = changelist(missing_upstream="yes")
    assert "io.github.evil/tool" in missing and "io.github.good/tool" not in missing
    deprecated = changelist(status="deprecated")
    assert "io.github.evil/tool" in deprecated and "io.github.good/tool" not in deprecated
    assert "io.github.good/tool" not in changelist(q="evil")
    request = RequestFactory().get("/")
    request.user = superuser
    assert not server_admin.has_add_permission(request)
    assert not server_admin.has_change_permission(request, plain.server)
    assert not server_admin.has_delete_permission(request, plain.server)


def test_a_version_nested_deeper_than_the_page_can_recurse_is_shown_as_stored(staff_client):
    version = ServerVersionFactory(server__name="io.github.deep/tool")
    deep = version.server_json[:-1] + ',"x":' + "[" * 5000 + "]" * 5000 + "}"
    ServerVersion.objects.filter(pk=version.pk).update(server_json=deep)

    response = staff_client.get(reverse("admin:mirror_serverversion_change", args=[version.pk]))

    assert response.status_code == 200 and "[" * 5000 in response.content.decode()


def test_pages_show_moments_to_the_second_with_their_time_zone(staff_client, data):
    _, plain, _ = data
    ServerVersion.objects.filter(pk=plain.pk).update(published_at=datetime(2025, 12, 12, 9, 30, 5, tzinfo=timezone.utc))

    page = staff_client.get(reverse("admin:mirror_serverversion_change", args=[plain.pk])).content.decode()
    listing = staff_client.get(reverse("admin:mirror_serverversion_changelist")).content.decode()

    assert "2025-12-12 09:30:05 UTC" in page
    assert "2025-12-12 09:30:05 UTC" in listing


def test_the_versions_list_leaves_the_upstream_documents_unread(staff_client, data):
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(reverse("admin:mirror_serverversion_changelist"))

    assert response.status_code == 200 and "io.github.good/tool" in response.content.decode()
    version_reads = [q["sql"] for q in queries if 'FROM "mirror_serverversion"' in q["sql"]]
    assert version_reads and not any('"server_json"' in sql or '"document"' in sql for sql in version_reads)


@pytest.mark.parametrize("query", [
    "recorded_at__year=9999",  # its year ends in year 10000
    "recorded_at__year=99999999999999999999",
    "recorded_at__year=2025&recorded_at__month=99999999999999999999",
])
def test_a_date_drill_down_past_the_calendar_is_an_invalid_lookup_not_a_500(staff_client, data, query):
    response = staff_client.get(f"{reverse('admin:mirror_upstreamevent_changelist')}?{query}")
    assert response.status_code == 302 and response.url.endswith("?e=1")
    response = staff_client.get(f"{reverse('admin:mirror_syncrun_changelist')}?{query.replace('recorded', 'started')}")
    assert response.status_code == 302 and response.url.endswith("?e=1")
