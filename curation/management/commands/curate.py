from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from curation import services
from curation.choices import AuditSource, CurationState
from curation.models import AuditEvent
from curation.selectors import is_glob, servers_matching
from mirror.models import Server

DECISIONS = {"approve": CurationState.APPROVED, "block": CurationState.BLOCKED, "pending": CurationState.PENDING}
SERVER_SERVICES = {CurationState.APPROVED: services.server_approve, CurationState.BLOCKED: services.server_block,
                   CurationState.PENDING: services.server_reset}
VERSION_SERVICES = {CurationState.APPROVED: services.version_approve, CurationState.BLOCKED: services.version_block,
                    CurationState.PENDING: services.version_reset}
CLI_ACTOR = "cli"


class Command(BaseCommand):
    help = ("Approve, block or reset servers (or one version) to pending, through the same services and audit "
            "trail as the admin; or show a server's curation. NAME may be a glob such as 'io.github.acme/*'.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        # `--version V` names a server version here, replacing Django's own --version option.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("action", choices=[*DECISIONS, "show"])
        parser.add_argument("name", help="A server name, or a glob (*, ?, [...]) for a bulk decision.")
        parser.add_argument("--version", dest="server_version", help="Decide on this version only.")
        parser.add_argument("--reason", help="Why (required for decisions; recorded in the audit trail).")
        parser.add_argument("--actor", help="Record this existing username as the actor (default: cli).")
        parser.add_argument("--yes", action="store_true", help="Confirm a decision on more than one server.")

    def handle(self, *args, action, name, server_version, reason, actor, yes, **options):
        if action == "show":
            return self._show(self._server(name))
        if not (reason or "").strip():
            raise CommandError("--reason is required: say why (it is recorded in the audit trail).")
        state = DECISIONS[action]
        acting = {"actor": None, "actor_name": CLI_ACTOR, "source": AuditSource.CLI}
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"--actor {actor!r}: no such user.")
            acting = {"actor": user, "actor_name": None, "source": AuditSource.CLI}
        label = state.label.lower()

        if is_glob(name):
            if server_version:
                raise CommandError("--version needs an exact server name, not a glob.")
            servers = servers_matching(name)
            matched = servers.count()
            if not matched:
                raise CommandError(f"No server matches {name!r}.")
            if matched > 1 and not yes:
                raise CommandError(f"{matched} servers match {name!r}; add --yes to set them all to {label}.")
            changed = services.servers_decide_bulk(servers=servers, state=state, reason=reason, **acting)
            self.stdout.write(f"{changed} of {matched} matching server{'s' if matched != 1 else ''} set to {label}"
                              f" ({matched - changed} already were).")
            return

        server = self._server(name)
        if server_version:
            version = server.versions.filter(version=server_version).first()
            if version is None:
                raise CommandError(f"{name} has no version {server_version!r}.")
            changed = VERSION_SERVICES[state](version=version, reason=reason, **acting)
            what = f"{name} {server_version}"
        else:
            changed = SERVER_SERVICES[state](server=server, reason=reason, **acting)
            what = name
        self.stdout.write(f"{what}: {label}." if changed else f"{what} already was {label}; nothing changed.")

    def _server(self, name: str) -> Server:
        server = Server.objects.select_related("curation").filter(name=name).first()
        if server is None:
            raise CommandError(f"No server named {name!r} (globs are for decisions, not `show`)."
                               if is_glob(name) else f"No server named {name!r}.")
        return server

    def _show(self, server: Server) -> None:
        curation = getattr(server, "curation", None)
        write = self.stdout.write
        write(server.name)
        if curation is None:
            write("  state: pending (never curated)")
        else:
            write(f"  state: {curation.state}   version policy: {curation.get_version_policy_display()}")
            if curation.decided_at:
                write(f"  decided by {curation.decided_by_name} at {curation.decided_at:%Y-%m-%d %H:%M:%S %Z}: "
                      f"{curation.reason}")
            if curation.meta:
                write(f"  org meta keys: {', '.join(sorted(curation.meta))}")
        if server.missing_upstream_since:
            write(f"  missing upstream since {server.missing_upstream_since:%Y-%m-%d %H:%M:%S %Z}")
        write("  versions:")
        versions = server.versions.select_related("curation", "listing").defer("server_json", "document")
        for version in sorted(versions, key=lambda v: v.first_seen_at, reverse=True):
            version_curation = getattr(version, "curation", None)
            listing = getattr(version, "listing", None)
            served = "served" if listing is not None and listing.is_served else "not served"
            write(f"    {version.version:<20} upstream {version.status:<10} "
                  f"curation {version_curation.state if version_curation else 'pending':<9} {served}")
        write("  recent audit:")
        for event in AuditEvent.objects.filter(server_name=server.name).order_by("-at", "-id")[:10]:
            detail = f" {event.version}" if event.version else ""
            write(f"    {event.at:%Y-%m-%d %H:%M:%S} {event.actor_name} ({event.source}) {event.action}{detail}"
                  + (f": {event.reason}" if event.reason else ""))
