"""The approved set as client policy, so device management enforces the same curation.

Formats (CLIENTS.md §5):

- `vscode-policy`: VS Code settings (user settings or enterprise managed settings)
  `{"chat.mcp.allowedServers": [matcher, …]}`.
- `copilot-managed-settings`: GitHub's managed settings `{"allowedMcpServers": [matcher, …]}`.
- `json`: a plain report of what is approved (names, versions, remote URLs, package commands).

A matcher carries exactly one matching field, as VS Code validates them
(`src/vs/platform/mcp/common/allowedMcpServers.ts`):

- `{"serverName": name}` for every approved server: GitHub and VS Code match the configured
  server's ID exactly, and the catalog's VS Code config keys servers by that name;
- `{"serverUrl": url}` for every remote of a served version; `{variables}` in its path or query
  become the `*` wildcard, which matches within one URL part. A URL with a literal `*` (upstream text
  never becomes a wildcard), or with a variable in its scheme, host or port (a wildcard there would
  admit any host), is left out: its server still matches by name;
- `{"serverCommand": [command, *args]}` for every package of a served version whose command is
  fully determined by the package (matched as an exact argument list). A command that needs a
  user's input (`${input:…}`) cannot match exactly, so it is left out: its server still matches
  by name.
"""

import re
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import urlsplit

from api.client_config import package_command

FORMATS = ("vscode-policy", "copilot-managed-settings", "json")
_SETTING_KEY = {"vscode-policy": "chat.mcp.allowedServers", "copilot-managed-settings": "allowedMcpServers"}
_URL_VARIABLE = re.compile(r"\{[A-Za-z0-9_.-]+\}")
_INPUT_MARK = "${input:"


class AllowlistFormatError(ValueError):
    pass


def allowlist_build(*, listings: Iterable, output_format: str, generated_at: datetime | None = None) -> dict:
    """The allowlist document for these served listings (each with `.name`, `.version_string`, `.version.document`)."""
    if output_format not in FORMATS:
        raise AllowlistFormatError(f"Unknown format {output_format!r}; expected one of {', '.join(FORMATS)}.")
    servers = _collect(listings)
    if output_format == "json":
        return {
            "generatedAt": (generated_at or datetime.now(timezone.utc)).isoformat(),
            "count": len(servers),
            "servers": list(servers.values()),
        }
    return {_SETTING_KEY[output_format]: allowlist_matchers(servers)}


def allowlist_matchers(servers: dict) -> list[dict]:
    names, urls, commands = [], [], []
    for server in servers.values():
        names.append({"serverName": server["name"]})
        for remote in server["remotes"]:
            url_matcher = _url_matcher(remote["url"])
            if url_matcher:
                urls.append({"serverUrl": url_matcher})
        for package in server["packages"]:
            if package["command"] and not any(_INPUT_MARK in arg for arg in package["command"]):
                commands.append({"serverCommand": package["command"]})
    return _unique(names + urls + commands)


def _url_matcher(url: str) -> str | None:
    if "*" in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc or _URL_VARIABLE.search(parts.netloc):
        return None
    return _URL_VARIABLE.sub("*", url)


def _collect(listings: Iterable) -> dict:
    servers: dict[str, dict] = {}
    for listing in listings:
        document = listing.version.document if isinstance(listing.version.document, dict) else {}
        server = servers.setdefault(listing.name, {
            "name": listing.name, "title": None, "latestVersion": None, "versions": [], "remotes": [], "packages": [],
        })
        server["versions"].append(listing.version_string)
        if listing.is_latest:
            server["latestVersion"] = listing.version_string
            server["title"] = document.get("title") if isinstance(document.get("title"), str) else None
        for remote in document.get("remotes") or []:
            if isinstance(remote, dict) and isinstance(remote.get("url"), str):
                entry = {"type": remote.get("type"), "url": remote["url"]}
                if entry not in server["remotes"]:
                    server["remotes"].append(entry)
        for package in document.get("packages") or []:
            if not isinstance(package, dict):
                continue
            entry = {
                "registryType": package.get("registryType"),
                "identifier": package.get("identifier"),
                "version": package.get("version"),
                "command": package_command(package),
            }
            if entry not in server["packages"]:
                server["packages"].append(entry)
    return servers


def _unique(matchers: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for matcher in matchers:
        key = repr(sorted(matcher.items()))
        if key not in seen:
            seen.add(key)
            unique.append(matcher)
    return unique
