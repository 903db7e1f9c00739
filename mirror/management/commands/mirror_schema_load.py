from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mirror.services import schema_document_load
from mirror.validation import SchemaUnavailable


class Command(BaseCommand):
    help = (
        "Cache official server.json schemas from files, for installs that cannot reach "
        "static.modelcontextprotocol.io: each is stored under its $id, and the sync then needs no network for it."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="A server.schema.json file.")

    def handle(self, *args, files, **options):
        for path in files:
            try:
                document, changed = schema_document_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{path}: cannot read it: {exc}") from None
            except SchemaUnavailable as exc:
                raise CommandError(f"{path}: {exc}") from None
            self.stdout.write(f"{document.url}: {'cached' if changed else 'already cached, unchanged'}")
