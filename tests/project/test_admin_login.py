"""Repeated failed admin logins lock out that account from that address for a while (django-axes)."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from curation.roles import AUDITORS_GROUP, CURATORS_GROUP

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "a long and proper passphrase"


@pytest.fixture(autouse=True)
def admin_user(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return User.objects.create_user("curator-carol", password=PASSWORD, is_staff=True, is_superuser=True)


def log_in(client, password, *, address="10.0.0.1"):
    return client.post(LOGIN, {"username": "curator-carol", "password": password}, REMOTE_ADDR=address)


def test_the_account_is_locked_from_that_address_after_the_limit_even_with_the_right_password(client):
    for _ in range(2):
        assert log_in(client, "guess").status_code == 200  # the login form again, with its error

    locked = log_in(client, "guess")
    still_locked = log_in(client, PASSWORD)

    assert locked.status_code == still_locked.status_code == 429
    page = still_locked.content.decode()
    assert "Too many failed logins" in page and "After 3 failed logins" in page and "for 15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_only_for_that_address(client):
    for _ in range(3):
        log_in(client, "guess")

    response = log_in(client, PASSWORD, address="10.0.0.2")

    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_a_successful_login_forgets_earlier_failures(client):
    for _ in range(2):
        log_in(client, "guess")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()

    for _ in range(2):
        log_in(client, "guess")

    assert log_in(client, PASSWORD).status_code == 302


def test_an_administrator_lifts_the_lock_at_once(client):
    for _ in range(3):
        log_in(client, "guess")
    assert log_in(client, PASSWORD).status_code == 429

    call_command("axes_reset_username", "curator-carol")

    assert log_in(client, PASSWORD).status_code == 302


def test_curators_and_auditors_cannot_see_the_login_records():
    for name in (CURATORS_GROUP, AUDITORS_GROUP):
        assert not Group.objects.get(name=name).permissions.filter(content_type__app_label="axes").exists()
