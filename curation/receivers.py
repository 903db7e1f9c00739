from django.dispatch import receiver

from curation.roles import roles_view_permissions_sync
from curation.services import mirror_changes_curate
from mirror.signals import mirror_changed


@receiver(mirror_changed, dispatch_uid="curation.mirror_changed")
def on_mirror_changed(sender, *, events, server_ids, **kwargs):
    """Runs inside the sync's page transaction: curation commits or rolls back with the page."""
    mirror_changes_curate(events=list(events), server_ids=server_ids)


def on_post_migrate(sender, *, using, apps=None, **kwargs):
    """After auth created the permissions of any new model (it runs first), let both roles view it."""
    if apps is not None:
        roles_view_permissions_sync(apps=apps, using=using)
