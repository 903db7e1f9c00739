"""Users, logged-in clients and mirrored servers for the admin tests (their fixtures are in conftest.py).

Roles come from the groups the curation data migration creates; curation state is set
through curation's own services, exactly as the admin does.
"""

from django.contrib.auth.models import Group, User
from django.test import Client

from curation import services
from curation.choices import AuditSource
from tests.factories import ServerFactory, ServerVersionFactory, server_document

CURATORS = "Registry curators"
AUDITORS = "Registry auditors"


def make_user(username, *, group=None, is_staff=True, is_superuser=False):
    # No password: the tests log in with force_login, and hashing one costs a third of a second.
    user = User.objects.create_user(username=username, password=None, is_staff=is_staff,
                                    is_superuser=is_superuser)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_server(name, versions=("1.0.0",), *, latest=None, status="active", **extra):
    """A mirrored server with these versions (documents built by the shared factory), latest set."""
    server = ServerFactory(name=name)
    created = []
    for version in versions:
        document = server_document(name, version, **extra)
        created.append(ServerVersionFactory(server=server, version=version, document=document, status=status))
    server.latest_version = next(v for v in created if v.version == (latest or versions[-1]))
    server.save(update_fields=["latest_version"])
    return server


def decide(server, state, *, reason="set up by the test", version=None):
    """Set a decision through the services, as the CLI would."""
    kwargs = {"reason": reason, "actor_name": "cli", "source": AuditSource.CLI}
    if version is not None:
        service = {"approved": services.version_approve, "blocked": services.version_block,
                   "pending": services.version_reset}[state]
        return service(version=version, **kwargs)
    service = {"approved": services.server_approve, "blocked": services.server_block,
               "pending": services.server_reset}[state]
    return service(server=server, **kwargs)
