import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from curation.roles import AUDITORS_GROUP, CURATORS_GROUP, roles_view_permissions_sync
from tests.curation.curation_support import user

pytestmark = pytest.mark.django_db

VIEW_ALL = {f"{label}.view_{model._meta.model_name}"
            for label in ("mirror", "curation") for model in apps.get_app_config(label).get_models()}


def permissions(group_name) -> set[str]:
    return {f"{app}.{codename}" for app, codename in Group.objects.get(name=group_name).permissions
            .values_list("content_type__app_label", "codename")}


def test_curators_view_everything_and_decide_edit_meta_and_policies():
    assert permissions(CURATORS_GROUP) == VIEW_ALL | {
        "curation.decide_server", "curation.change_servercuration", "curation.change_versioncuration",
        "curation.add_policy", "curation.change_policy", "curation.delete_policy", "curation.export_auditevent",
    }


def test_auditors_only_view_and_export():
    granted = permissions(AUDITORS_GROUP)
    assert granted == VIEW_ALL | {"curation.export_auditevent"}
    assert not [p for p in granted if p.split(".")[1].startswith(("add_", "change_", "delete_", "decide_"))]


def test_nobody_may_change_or_delete_audit_events_through_a_group():
    for group in (CURATORS_GROUP, AUDITORS_GROUP):
        assert not {"curation.add_auditevent", "curation.change_auditevent",
                    "curation.delete_auditevent"} & permissions(group)


def test_users_get_exactly_their_groups_rights():
    curator, auditor, staff = user("carol", is_staff=True), user("audrey", is_staff=True), user("stan", is_staff=True)
    curator.groups.add(Group.objects.get(name=CURATORS_GROUP))
    auditor.groups.add(Group.objects.get(name=AUDITORS_GROUP))
    assert curator.has_perms(["curation.decide_server", "curation.change_servercuration", "mirror.view_server"])
    assert auditor.has_perms(["curation.view_auditevent", "curation.export_auditevent", "mirror.view_server"])
    assert not auditor.has_perm("curation.decide_server")
    assert not auditor.has_perm("curation.change_servercuration")
    assert not staff.has_perm("curation.decide_server") and not staff.has_perm("mirror.view_server")


def test_view_permissions_of_models_added_later_are_granted_after_migrate():
    view_server = Permission.objects.get(content_type__app_label="mirror", codename="view_server")
    decide = Permission.objects.get(codename="decide_server")
    for group in Group.objects.filter(name__in=[CURATORS_GROUP, AUDITORS_GROUP]):
        group.permissions.remove(view_server)
    roles_view_permissions_sync()
    assert "mirror.view_server" in permissions(CURATORS_GROUP) & permissions(AUDITORS_GROUP)
    assert decide not in Group.objects.get(name=AUDITORS_GROUP).permissions.all()
