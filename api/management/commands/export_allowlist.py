import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from api.allowlist import FORMATS, allowlist_build
from api.catalog_selectors import allowlist_listings


class Command(BaseCommand):
    help = "Export the approved MCP servers as a client allowlist (VS Code policy, Copilot managed settings or JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--format", dest="output_format", choices=FORMATS, default="json")
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, output_format, output, **options):
        document = allowlist_build(listings=allowlist_listings().iterator(chunk_size=500), output_format=output_format)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if not output:
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}") from exc
        if output_format == "json":
            summary = f"{document['count']} servers"
        else:
            summary = f"{len(next(iter(document.values())))} matchers"
        self.stderr.write(f"Wrote the {output_format} allowlist ({summary}) to {path}.")
