"""The two least-privilege groups: `Registry curators` and `Registry auditors`.

Django creates permissions in post_migrate, after every migration has run, so on a fresh
database they do not exist yet here: create them (and their content types) first.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATORS = "Registry curators"
AUDITORS = "Registry auditors"
VIEWED_APPS = ("mirror", "curation")

CURATOR_EXTRA = [
    ("curation", "decide_server"),
    ("curation", "change_servercuration"),
    ("curation", "change_versioncuration"),
    ("curation", "add_policy"),
    ("curation", "change_policy"),
    ("curation", "delete_policy"),
    ("curation", "export_auditevent"),
]
AUDITOR_EXTRA = [("curation", "export_auditevent")]


def _permissions_create(apps):
    for label in VIEWED_APPS:
        # The installed app config (a migration-state stub has no models module and would be
        # skipped); the models and permissions themselves come from the historical `apps`.
        create_permissions(global_apps.get_app_config(label), apps=apps, verbosity=0)


def _permissions(apps, codenames):
    Permission = apps.get_model("auth", "Permission")
    found = []
    for app_label, codename in codenames:
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def roles_create(apps, schema_editor):
    _permissions_create(apps)
    Group = apps.get_model("auth", "Group")
    view_all = [(label, f"view_{model._meta.model_name}")
                for label in VIEWED_APPS for model in apps.get_app_config(label).get_models()]
    for name, extra in ((CURATORS, CURATOR_EXTRA), (AUDITORS, AUDITOR_EXTRA)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(apps, view_all + extra))


def roles_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[CURATORS, AUDITORS]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("mirror", "0001_initial"),
        ("curation", "0003_auditevent_append_only"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
