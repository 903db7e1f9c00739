from django.apps import AppConfig


class MirrorConfig(AppConfig):
    name = "mirror"

    def ready(self):
        from mirror import lookups  # noqa: F401  (registers the `__any` lookup)
