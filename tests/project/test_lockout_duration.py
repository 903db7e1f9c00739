"""The admin lockout page says how long the lock lasts in words, whatever ADMIN_LOGIN_LOCKOUT is."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.mark.parametrize("lockout, said", [
    (timedelta(seconds=1), "locked for 1 second."),
    (timedelta(seconds=30), "locked for 30 seconds."),
    (timedelta(seconds=60), "locked for 1 minute."),
    (timedelta(seconds=90), "locked for 1 minute 30 seconds."),
    (timedelta(minutes=15), "locked for 15 minutes."),
    (timedelta(minutes=90), "locked for 1 hour 30 minutes."),
    (timedelta(hours=2), "locked for 2 hours."),
    (timedelta(days=1, hours=1, minutes=1, seconds=1), "locked for 1 day 1 hour 1 minute 1 second."),
])
def test_the_lockout_page_says_how_long_the_lock_lasts(client, settings, lockout, said):
    settings.AXES_FAILURE_LIMIT = 1
    settings.AXES_COOLOFF_TIME = lockout
    User.objects.create_user("curator-carol", password="a long and proper passphrase", is_staff=True)

    response = client.post(LOGIN, {"username": "curator-carol", "password": "guess"}, REMOTE_ADDR="10.0.0.1")

    assert response.status_code == 429
    assert said in " ".join(response.content.decode().split())
