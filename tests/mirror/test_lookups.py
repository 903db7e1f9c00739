import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mirror.models import Server, ServerVersion
from tests.factories import ServerFactory, ServerVersionFactory

pytestmark = pytest.mark.django_db


def test_any_matches_like_in_with_one_array_parameter():
    names = ["io.github.a/it's", 'io.github.a/"quoted"', "io.github.a/{brace,comma}", "io.github.a/other"]
    servers = [ServerFactory(name=name) for name in names]
    wanted = names[:3] + ["io.github.a/absent"]

    with CaptureQueriesContext(connection) as queries:
        found = set(Server.objects.filter(name__any=wanted).values_list("name", flat=True))

    assert found == set(Server.objects.filter(name__in=wanted).values_list("name", flat=True)) == set(names[:3])
    assert '"mirror_server"."name" = ANY(' in queries[0]["sql"] and " IN (" not in queries[0]["sql"]
    assert set(Server.objects.filter(id__any=[servers[0].id, servers[3].id]).values_list("name", flat=True)) == {
        names[0], names[3]}


def test_any_works_across_a_relation_and_with_no_values():
    version = ServerVersionFactory()
    ServerVersionFactory()

    assert list(ServerVersion.objects.filter(server_id__any={version.server_id})) == [version]
    assert list(ServerVersion.objects.filter(server__any=[version.server_id])) == [version]
    assert not ServerVersion.objects.filter(id__any=[]).exists()
    assert ServerVersion.objects.exclude(server_id__any=[version.server_id]).count() == 1
