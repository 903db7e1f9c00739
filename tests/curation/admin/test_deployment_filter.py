"""The server list's "remote or local" filter: local means packages and no remote, as its label says."""

import pytest
from django.urls import reverse

from tests.curation.admin.support import make_server

pytestmark = pytest.mark.django_db

REMOTE = {"type": "streamable-http", "url": "https://mcp.acme.com/mcp"}


def listed(client, deployment):
    response = client.get(reverse("admin:mirror_server_changelist"), {"deployment": deployment})
    assert response.status_code == 200
    return sorted(server.name for server in response.context["cl"].result_list)


def test_local_only_lists_servers_with_packages_and_no_remote(curator_client):
    make_server("io.github.acme/local")
    make_server("io.github.acme/both", remotes=[REMOTE])
    make_server("io.github.acme/remote", packages=[], remotes=[REMOTE])
    make_server("io.github.acme/empty-packages", packages=[])
    make_server("io.github.acme/no-packages-key").versions.update(
        document={"name": "io.github.acme/no-packages-key", "version": "1.0.0"})

    assert listed(curator_client, "local") == ["io.github.acme/local"]
    assert listed(curator_client, "remote") == ["io.github.acme/both", "io.github.acme/remote"]
