import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from registry_project.celery import app

pytestmark = pytest.mark.django_db

HEALTHCHECK = Path(__file__).resolve().parents[2] / "registry_project" / "healthcheck.py"

WEB = {"Database(alias='default')": "OK", "Cache(alias='default')": "OK"}


def test_the_web_health_needs_no_worker(client):
    response = client.get("/health/?format=json")
    assert response.status_code == 200, response.content
    assert response.json() == WEB


def test_the_worker_health_fails_without_a_worker(client):
    response = client.get("/health/worker/?format=json")
    assert response.status_code == 500
    assert response.json() == {**WEB, "WorkerPing()": "Unavailable: Celery workers unavailable"}


@pytest.mark.django_db(transaction=True)
def test_the_worker_health_is_ok_with_a_celery_worker_listening(client):
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        deadline = time.monotonic() + 15  # a worker on a loaded machine may take a moment to answer pings
        while ((response := client.get("/health/worker/?format=json")).status_code != 200
               and time.monotonic() < deadline):
            time.sleep(0.5)
    assert response.status_code == 200, response.content
    assert response.json() == {**WEB, "WorkerPing()": "OK"}


def test_an_https_redirect_spares_the_health_checks(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/admin/login/").status_code == 301
    assert client.get("/health/?format=json").status_code == 200
    assert client.get("/health/worker/?format=json").status_code == 500  # answered (no worker here), not redirected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("allowed_hosts", ["registry.example.com,other.example.com", ".example.com"])
@pytest.mark.parametrize("given_as_file", [False, True])
def test_the_image_health_check_asks_as_an_allowed_host(live_server, settings, tmp_path, allowed_hosts,
                                                        given_as_file):
    settings.ALLOWED_HOSTS = allowed_hosts.split(",")
    hosts_file = tmp_path / "allowed_hosts"
    hosts_file.write_text(allowed_hosts + "\n")
    given = {"DJANGO_ALLOWED_HOSTS_FILE": str(hosts_file)} if given_as_file else {"DJANGO_ALLOWED_HOSTS": allowed_hosts}
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_ALLOWED_HOSTS")}

    def probe(path):
        return subprocess.run([sys.executable, HEALTHCHECK, live_server.url + path], capture_output=True, text=True,
                              env={**environment, **given})

    assert probe("/health/").returncode == 0
    unhealthy = probe("/health/worker/")
    assert unhealthy.returncode == 1
    assert unhealthy.stderr == "unhealthy: HTTP Error 500: Internal Server Error\n"
