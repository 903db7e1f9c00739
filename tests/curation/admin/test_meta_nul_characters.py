"""A NUL character in org `_meta` is refused as a form error: PostgreSQL's jsonb cannot store one."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from curation.choices import AuditAction
from curation.meta import meta_validate
from curation.models import AuditEvent, ServerCuration, VersionCuration
from tests.curation.admin.support import decide, make_server

pytestmark = pytest.mark.django_db

NUL_IN_VALUE = r'{"a": "x\u0000y"}'
NUL_AS_KEY = r'{"\u0000": 1}'
NUL_DEEP_IN_A_KEY = r'{"team": [{"on\u0000call": "ops"}]}'


@pytest.mark.parametrize(("meta", "where"), [
    ({"a": "x\x00y"}, "“a”"),
    ({"\x00": 1}, r"“\u0000”"),
    ({"team": [{"on\x00call": "ops"}]}, r"“team/0/on\u0000call”"),
    ({"tags": ["ok", "\x00"]}, "“tags/1”"),
])
def test_meta_validate_refuses_a_nul_character_naming_where_it_is(meta, where):
    with pytest.raises(ValidationError) as caught:
        meta_validate(meta)

    (message,) = caught.value.messages
    assert "NUL character" in message and where in message
    assert "\x00" not in message


@pytest.mark.parametrize("text", [NUL_IN_VALUE, NUL_AS_KEY, NUL_DEEP_IN_A_KEY])
def test_the_server_meta_editor_refuses_a_nul_character_as_a_form_error(curator_client, text):
    server = make_server("io.github.acme/one")
    decide(server, "pending")  # a curation row exists, with empty metadata
    url = reverse("admin:mirror_server_meta", args=[server.pk])

    response = curator_client.post(url, {"meta": text, "reason": "r"})

    assert response.status_code == 200
    assert "NUL character" in " ".join(response.context["form"].errors["meta"])
    assert response.context["form"]["meta"].value() == text  # the curator's input is kept
    assert ServerCuration.objects.get(server=server).meta == {}
    assert not AuditEvent.objects.filter(action=AuditAction.META_UPDATED).exists()


def test_the_version_meta_editor_refuses_a_nul_character_as_a_form_error(curator_client):
    server = make_server("io.github.acme/one", ("1.0.0", "2.0.0"))
    version = server.versions.get(version="2.0.0")
    url = reverse("admin:mirror_server_version_meta", args=[server.pk, version.pk])

    response = curator_client.post(url, {"meta": NUL_IN_VALUE, "reason": "r"})

    assert response.status_code == 200
    assert "NUL character" in " ".join(response.context["form"].errors["meta"])
    assert not VersionCuration.objects.filter(version=version).exclude(meta={}).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.META_UPDATED).exists()
