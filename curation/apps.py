from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CurationConfig(AppConfig):
    name = "curation"

    def ready(self):
        from curation import meta, receivers  # noqa: F401  (registers the system check and the sync receiver)

        post_migrate.connect(receivers.on_post_migrate, sender=self, dispatch_uid="curation.roles")
