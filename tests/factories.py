"""Factories for mirrored data. Curation state is set through curation's own services in tests."""

import hashlib
from datetime import datetime, timezone

import factory

from mirror.choices import UpstreamStatus
from mirror.models import Server, ServerVersion
from mirror.services import server_json_dump

SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


def server_document(name: str, version: str, **extra) -> dict:
    """A valid `server.json` (2025-12-11) with an npm package, key order as upstream sends it."""
    document = {
        "$schema": SCHEMA_URL,
        "name": name,
        "description": f"Test server {name}",
        "repository": {"url": f"https://github.com/{name.split('/')[-1]}/repo", "source": "github"},
        "version": version,
        "packages": [
            {
                "registryType": "npm",
                "identifier": f"@test/{name.split('/')[-1]}",
                "version": version,
                "transport": {"type": "stdio"},
            }
        ],
    }
    document.update(extra)
    return document


class ServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Server
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"io.github.test/server-{n:05d}")


class ServerVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServerVersion

    class Params:
        extra = factory.Dict({})

    server = factory.SubFactory(ServerFactory)
    version = "1.0.0"
    document = factory.LazyAttribute(lambda o: server_document(o.server.name, o.version, **o.extra))
    server_json = factory.LazyAttribute(lambda o: server_json_dump(o.document))
    content_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.server_json.encode()).hexdigest())
    status = UpstreamStatus.ACTIVE
    status_changed_at = datetime(2025, 12, 12, 9, 30, tzinfo=timezone.utc)
    published_at = datetime(2025, 12, 12, 9, 30, tzinfo=timezone.utc)
    upstream_updated_at = datetime(2025, 12, 12, 9, 30, tzinfo=timezone.utc)
