"""A NUL byte in the path or query string of an admin page is a client error, never a 500.

PostgreSQL text and jsonb refuse NUL, so any admin filter or lookup that passed one on would fail
in the database. The registry API and the catalog answer NUL themselves (tests/api).
"""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", [
    "/admin/curation/auditevent/?actor_name=%00",
    "/admin/curation/auditevent/?server_name=%00",
    "/admin/curation/auditevent/export/csv/?actor_name=%00",
    "/admin/curation/auditevent/export/jsonl/?server_name=%00",
    "/admin/mirror/serverversion/?status=%00",
    "/admin/curation/auditevent/?action=%00",
    "/admin/curation/policy/?registry_type=%00",
    "/admin/mirror/syncrun/?outcome=%00",
    "/admin/mirror/server/?q=%00",
    "/admin/mirror/server/?%00=1",
    "/admin/mirror/server/%00/change/",
])
def test_a_nul_byte_in_an_admin_url_is_a_400(admin_client, url):
    response = admin_client.get(url)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "NUL" in response.content.decode()


def test_anonymous_visitors_get_the_400_too(client):
    assert client.get("/admin/login/?next=%00").status_code == 400


def test_admin_urls_without_nul_bytes_are_served_as_before(admin_client):
    assert admin_client.get("/admin/curation/auditevent/?actor_name=cli").status_code == 200
    assert admin_client.get("/admin/curation/auditevent/?server_name=%2500").status_code == 200
