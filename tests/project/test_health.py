import time

import pytest
from celery.contrib.testing.worker import start_worker

from registry_project.celery import app

pytestmark = pytest.mark.django_db


def test_health_reports_each_dependency_and_fails_without_a_worker(client):
    response = client.get("/health/?format=json")
    assert response.status_code == 500
    results = response.json()
    assert [value for key, value in results.items() if key.startswith("Database")] == ["OK"]
    assert [value for key, value in results.items() if key.startswith("Cache")] == ["OK"]
    assert any(key.startswith("Ping") and "unavailable" in value.lower() for key, value in results.items())


@pytest.mark.django_db(transaction=True)
def test_health_is_ok_with_a_celery_worker_listening(client):
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        deadline = time.monotonic() + 15  # a worker on a loaded machine may take a moment to answer pings
        while (response := client.get("/health/?format=json")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
    assert response.status_code == 200, response.content
    assert set(response.json().values()) == {"OK"}


def test_an_https_redirect_spares_the_health_check(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/admin/login/").status_code == 301
    assert client.get("/health/?format=json").status_code == 500  # answered (no worker here), not redirected
