"""The two groups of migration 0004, kept able to view every mirror and curation model.

A model added to either app after that migration would otherwise stay invisible to curators and
auditors; after each `migrate`, the groups get the view permission of every such model (nothing
else: decisions and exports stay exactly as the migration granted them).
"""

from django.apps import apps as global_apps

CURATORS_GROUP = "Registry curators"
AUDITORS_GROUP = "Registry auditors"
VIEWED_APPS = ("mirror", "curation")


def roles_view_permissions_sync(*, apps=global_apps, using="default") -> None:
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:
        return
    groups = list(Group.objects.using(using).filter(name__in=[CURATORS_GROUP, AUDITORS_GROUP]))
    if not groups:
        return
    codenames = {f"view_{model._meta.model_name}" for label in VIEWED_APPS
                 for model in apps.get_app_config(label).get_models()}
    views = list(Permission.objects.using(using).filter(content_type__app_label__in=VIEWED_APPS,
                                                        codename__in=codenames))
    for group in groups:
        group.permissions.add(*views)
