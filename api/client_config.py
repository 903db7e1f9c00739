"""Turn a `server.json` (2025-12-11) into the configuration an MCP client runs.

A pure service: no database, no request. The catalog pages and the `client-config`
API extension call `client_config_build()`.

How values are chosen, for every argument, environment variable, header and URL variable:

- a fixed `value` is used as published, its `{variables}` substituted;
- a secret, or a required input without a fixed value, becomes a client *input*: the config
  holds a reference, never a made-up value that could pass for a real one;
- an optional input with a `default` uses the default; an optional one without is left out, unless the
  package's URL names it (`http://localhost:{port}/mcp`): then it is asked for, as a required one.

What is refused (the answer then has no config, and a note says why):

- any `${` in a package's or remote's entry, or a string ending in `$` that substituting a variable
  could join to a `{`: the clients expand `${…}` themselves (`${env:NAME}` reads the user's
  environment), so the only references in a config are the input references made here;
- a package identifier or version outside its registry's naming grammar: a leading `-` would be read
  as an option of the launcher (`docker run … --privileged`);
- an mcpb bundle whose URL is not https.

How each client refers to an input:

- `vscode` (`.vscode/mcp.json`): `${input:<id>}`, declared in the file's `inputs` list as a
  `promptString` (`password: true` for secrets) or a `pickString` when `choices` are published.
  VS Code prompts for the value on first start and stores secrets in its secret storage.
- `cursor` (`.cursor/mcp.json`): `${env:<NAME>}`, Cursor's config interpolation, read from the
  environment Cursor runs in; the response's `inputs` lists the variables to set.
- `claude-desktop` (`claude_desktop_config.json`): Claude Desktop neither prompts nor interpolates,
  so the file keeps the `${input:<id>}` marker and the response's `inputs` lists what the user must
  replace before saving. It runs stdio servers only, so remotes go through `npx -y mcp-remote`.

The VS Code entry is keyed by the full registry name: with "registry only" access VS Code and
GitHub resolve a configured server by that name (CLIENTS.md §5). The other clients key it by the
name's last segment.

Input ids start with that key, made safe for an id (`io.github.acme_fs-mcp.path` in VS Code,
`fs-mcp.path` in Claude Desktop, the variable `FS_MCP_PATH` in Cursor), so two servers in one file never
share an input, and no input lands on a variable the system already uses (`PATH`, `USER`).
"""

import re
from dataclasses import dataclass, field

from registry_project.env import is_http_url

CLIENTS = ("vscode", "claude-desktop", "cursor")
CLIENT_FILES = {
    "vscode": ".vscode/mcp.json",
    "claude-desktop": "claude_desktop_config.json",
    "cursor": ".cursor/mcp.json",
}

_TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9_-]+")
_IMAGE_REFERENCE = re.compile(r"(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]*)$")

# What a package may be called on a command line, per registry: each name starts with a letter or digit.
_OCI_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PACKAGE_IDENTIFIERS = {
    "npm": re.compile(r"(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*", re.IGNORECASE),
    "pypi": re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?", re.IGNORECASE),
    "nuget": re.compile(r"[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*"),
    # [registry[:port]/]path[:tag][@digest], as in the distribution project's reference grammar.
    "oci": re.compile(
        rf"(?:[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]+)?/)?{_OCI_PATH_COMPONENT}(?:/{_OCI_PATH_COMPONENT})*"
        r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
        r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
    ),
}
# Semantic, PEP 440 and NuGet versions; no `:` or `/`, which would make `name@version` another kind of
# spec (npm's `alias@npm:other`, a git URL).
_PACKAGE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
# What one `{variable}` template may expand to: far beyond any real value, and small enough that a
# template naming a long variable many times cannot make a config of gigabytes.
_MAX_EXPANDED_LENGTH = 16 * 1024
_TOO_LONG_NOTE = ("A `{{variable}}` template in this {what}'s server.json entry expands to more than {limit} KB, "
                  "so no configuration is generated for it.")
_PLACEHOLDER_NOTE = ("This {what} contains `${{` in its server.json entry (or a `$` that a variable would join to "
                     "a `{{`). MCP clients expand `${{…}}` themselves (`${{env:NAME}}` reads your environment), so "
                     "no configuration is generated for it.")


class ClientConfigError(ValueError):
    """The request cannot be answered: unknown client, or no such package or remote."""


class _TemplateTooLong(Exception):
    """A `{variable}` template expands to more than _MAX_EXPANDED_LENGTH characters."""


@dataclass(frozen=True)
class Launcher:
    command: str
    # Arguments before the runtime arguments, and how the package is named on the command line.
    leading: tuple[str, ...]
    spec: str


# Launchers by runtimeHint, and the default launcher for each registry type.
_LAUNCHERS = {
    "npx": Launcher("npx", ("-y",), "{identifier}@{version}"),
    "bunx": Launcher("bunx", (), "{identifier}@{version}"),
    "uvx": Launcher("uvx", (), "{identifier}=={version}"),
    "pipx": Launcher("pipx", ("run",), "{identifier}=={version}"),
    "docker": Launcher("docker", ("run", "-i", "--rm"), "{identifier}"),
    "podman": Launcher("podman", ("run", "-i", "--rm"), "{identifier}"),
    "dnx": Launcher("dnx", (), "{identifier}@{version}"),
}
_DEFAULT_RUNTIME = {"npm": "npx", "pypi": "uvx", "oci": "docker", "nuget": "dnx"}
_RUNTIMES_FOR = {
    "npm": {"npx", "bunx"},
    "pypi": {"uvx", "pipx"},
    "oci": {"docker", "podman"},
    "nuget": {"dnx"},
}
_CONTAINER_RUNTIMES = {"docker", "podman"}


@dataclass
class Input:
    """A value the user supplies. `id` is what the config references."""

    id: str
    description: str
    is_secret: bool = False
    is_required: bool = False
    default: str | None = None
    choices: list[str] | None = None

    def as_dict(self) -> dict:
        data = {"id": self.id, "description": self.description, "isSecret": self.is_secret,
                "isRequired": self.is_required}
        if self.default is not None:
            data["default"] = self.default
        if self.choices:
            data["choices"] = list(self.choices)
        return data


@dataclass
class Launch:
    """A client-neutral description of how to run or reach one package or remote."""

    kind: str  # "stdio", "http", "sse", "download" or "refused"
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    inputs: list[Input] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    download: dict | None = None


@dataclass
class ClientConfig:
    client: str
    file: str
    server_key: str
    source: dict
    config: dict | None
    inputs: list[dict]
    launch: dict | None
    download: dict | None
    notes: list[str]

    def as_dict(self) -> dict:
        return {
            "client": self.client,
            "file": self.file,
            "serverKey": self.server_key,
            "source": self.source,
            "config": self.config,
            "inputs": self.inputs,
            "launch": self.launch,
            "download": self.download,
            "notes": self.notes,
        }


# --- Choosing what to configure ----------------------------------------------


def config_sources(document: dict) -> list[dict]:
    """Every package and remote of the document, each `{"type", "index", "label"}`, in document order."""
    sources = []
    for index, package in enumerate(_list(document.get("packages"))):
        identifier = str(package.get("identifier", ""))
        sources.append({"type": "package", "index": index, "registryType": str(package.get("registryType", "")),
                        "label": f"{package.get('registryType', '?')}: {identifier}"})
    for index, remote in enumerate(_list(document.get("remotes"))):
        sources.append({"type": "remote", "index": index, "transport": str(remote.get("type", "")),
                        "label": f"{remote.get('type', '?')}: {remote.get('url', '')}"})
    return sources


def default_source(document: dict) -> dict | None:
    """The first package a client can run, else the first remote, else the first package (e.g. mcpb)."""
    sources = config_sources(document)
    runnable = [s for s in sources if s["type"] == "package" and _runtime_for(s["registryType"])]
    remotes = [s for s in sources if s["type"] == "remote"]
    return (runnable or remotes or sources or [None])[0]


def client_config_build(*, document: dict, client: str, package_index: int | None = None,
                        remote_index: int | None = None) -> ClientConfig:
    """The `client` configuration for one package or remote of `document`.

    Give at most one of `package_index` / `remote_index`; with neither, `default_source()` is used.
    Raises ClientConfigError for an unknown client, both indexes, or an index out of range.
    """
    if client not in CLIENTS:
        raise ClientConfigError(f"Unknown client {client!r}; expected one of {', '.join(CLIENTS)}.")
    if package_index is not None and remote_index is not None:
        raise ClientConfigError("Give either a package index or a remote index, not both.")
    packages, remotes = _list(document.get("packages")), _list(document.get("remotes"))
    if package_index is not None:
        source = _pick(packages, package_index, "package")
        kind, index = "package", package_index
    elif remote_index is not None:
        source = _pick(remotes, remote_index, "remote")
        kind, index = "remote", remote_index
    else:
        chosen = default_source(document)
        if chosen is None:
            raise ClientConfigError("This server publishes no packages and no remotes.")
        kind, index = chosen["type"], chosen["index"]
        source = (packages if kind == "package" else remotes)[index]

    name = str(document.get("name", ""))
    server_key = name if client == "vscode" else server_key_for(name)
    inputs = _Inputs(_REFERENCE_FOR[client], id_prefix=_UNSAFE_ID.sub("_", server_key))
    try:
        launch = _package_launch(source, inputs) if kind == "package" else _remote_launch(source, inputs)
    except _TemplateTooLong:
        launch = _refused(_TOO_LONG_NOTE.format(what=kind, limit=_MAX_EXPANDED_LENGTH // 1024))
    source_info = {"type": kind, "index": index}
    if kind == "package":
        source_info.update(registryType=source.get("registryType"), identifier=source.get("identifier"))
    else:
        source_info.update(transport=source.get("type"), url=source.get("url"))
    if launch.kind in ("download", "refused"):
        config, launch_dict, notes = None, None, []
    else:
        render = {"vscode": _render_vscode, "claude-desktop": _render_claude, "cursor": _render_cursor}[client]
        config, launch_dict, notes = render(server_key, launch)
    return ClientConfig(
        client=client, file=CLIENT_FILES[client], server_key=server_key, source=source_info,
        config=config, inputs=[_input_for_client(client, item) for item in launch.inputs],
        launch=launch_dict, download=launch.download, notes=launch.notes + notes,
    )


def server_key_for(name: str) -> str:
    """The last segment of a registry name, made safe as a config key: `io.github.acme/weather` → `weather`."""
    key = _UNSAFE_KEY.sub("-", name.rsplit("/", 1)[-1]).strip("-")
    return key or "mcp-server"


def package_command(package: dict) -> list[str] | None:
    """The command line that runs a package, inputs left as `${input:id}`; None if it has no command (mcpb)."""
    try:
        launch = _package_launch(package, _Inputs(_input_reference))
    except _TemplateTooLong:
        return None
    return [launch.command, *launch.args] if launch.command else None


# --- Building the neutral launch -----------------------------------------------


class _Inputs:
    """Collects the inputs of one launch; the same input is declared once, and two inputs never share
    a reference (Cursor's `token` and `TOKEN` would both read `${env:…_TOKEN}`).

    `reference_for` turns an input id into the client's reference to it, so every reference in a
    config is one made here, never found again by pattern in the finished strings. `id_prefix`
    starts every id.
    """

    def __init__(self, reference_for, *, id_prefix: str = ""):
        self.items: dict[str, Input] = {}
        self.reference_for = reference_for
        self.id_prefix = f"{id_prefix}." if id_prefix else ""

    def reference(self, wanted_id: str, spec: dict, *, required: bool | None = None, secret: bool = False) -> str:
        base = self.id_prefix + (_UNSAFE_ID.sub("_", wanted_id).strip("_") or "value")
        candidate = Input(
            id=base,
            description=str(spec.get("description") or spec.get("placeholder") or wanted_id),
            is_secret=secret or bool(spec.get("isSecret")),
            is_required=bool(spec.get("isRequired")) if required is None else required,
            default=_text(spec.get("default")),
            choices=[str(c) for c in _list(spec.get("choices"))] or None,
        )
        taken = {self.reference_for(item.id): item for item in self.items.values()}
        suffix = 2
        while taken.get(self.reference_for(candidate.id), candidate) != candidate:
            candidate.id = f"{base}_{suffix}"
            suffix += 1
        self.items[candidate.id] = candidate
        return self.reference_for(candidate.id)


def _resolve(spec: dict, wanted_id: str, inputs: _Inputs, *, in_template: bool = False,
             in_secret: bool = False, needed: bool = False) -> str | None:
    """The value for one Input object, or None when an optional one is left out.

    `in_secret`: the value is part of a secret's value (`Bearer {token}`), so an input asked for it is secret.
    `in_template`: `spec` is a template's variable, an Input without variables of its own (per the schema),
    so its value is used as written.
    `needed`: a template names it (a package's URL), so an optional one is asked for rather than left out.
    """
    value = _text(spec.get("value"))
    if value is not None and in_template:
        return value
    if value is not None:
        return _substitute(value, _dict(spec.get("variables")), inputs,
                           in_secret=in_secret or bool(spec.get("isSecret")))
    if spec.get("isSecret") or spec.get("isRequired"):
        return inputs.reference(wanted_id, spec, secret=in_secret)
    default = _text(spec.get("default"))
    if default is not None:
        return default
    # A variable that a template names must get a value: ask for it.
    return inputs.reference(wanted_id, spec, required=True, secret=in_secret) if in_template or needed else None


def _substitute(template: str, variables: dict, inputs: _Inputs, *, in_secret: bool = False) -> str:
    """Replace `{name}` with each variable's value; names not in `variables` stay as written (per the spec)."""

    def value_for(name):
        spec = variables.get(name)
        if not isinstance(spec, dict):
            return None
        return _resolve(spec, name, inputs, in_template=True, in_secret=in_secret)

    return _expand(template, value_for)


def _expand(template: str, value_for) -> str:
    """`template` with each `{name}` replaced by `value_for(name)`, or left as written where that is None.

    Raises _TemplateTooLong as soon as the result passes _MAX_EXPANDED_LENGTH characters.
    """
    length = len(template)

    def replace(match):
        nonlocal length
        value = value_for(match.group(1))
        if value is None:
            return match.group(0)
        length += len(value) - len(match.group(0))
        if length > _MAX_EXPANDED_LENGTH:
            raise _TemplateTooLong
        return value

    return _TEMPLATE_VARIABLE.sub(replace, template)


def _argument_values(arguments: list, inputs: _Inputs, notes: list[str], resolved: dict[str, str],
                     url_names: frozenset[str]) -> list[str]:
    """The arguments' values in order; `url_names`: what the package's URL names, and so needs a value."""
    args: list[str] = []
    for position, argument in enumerate(arguments, start=1):
        if not isinstance(argument, dict):
            continue
        if argument.get("type") == "named":
            args.extend(_named_argument(argument, inputs, notes, resolved, url_names))
            continue
        hint = _text(argument.get("valueHint"))
        label = hint or f"argument_{position}"
        value = _resolve(argument, label, inputs, needed=hint in url_names)
        if value is None:
            notes.append(f"Optional argument {label!r} is left out; add it to args if you need it.")
            continue
        if hint:
            resolved[hint] = value
        args.append(value)
        if argument.get("isRepeated"):
            notes.append(f"Argument {label!r} may be repeated: add more values after it in args.")
    return args


def _named_argument(argument: dict, inputs: _Inputs, notes: list[str], resolved: dict[str, str],
                    url_names: frozenset[str]) -> list[str]:
    name = _text(argument.get("name"))
    if not name:
        notes.append("A named argument without a name was skipped.")
        return []
    label = name.lstrip("-").rstrip("=") or name
    needed = bool({label, name} & url_names)
    has_value = any(argument.get(k) is not None for k in ("value", "default")) or argument.get("isRequired") \
        or argument.get("isSecret") or needed
    if argument.get("format") == "boolean":
        value = _text(argument.get("value")) or _text(argument.get("default"))
        if value is None and (argument.get("isRequired") or argument.get("isSecret")):
            value = "true"
        if value is None:
            notes.append(f"Optional flag {name!r} is off; add it to args to turn it on.")
            return []
        if value.lower() == "false":
            return []
        resolved[label] = "true"
        return [name.rstrip("=")]
    # A published format (other than boolean, handled above) or choices say the flag takes a value.
    takes_value = argument.get("format") is not None or bool(_list(argument.get("choices")))
    if not has_value and not takes_value:
        # A bare flag: `--verbose`.
        return [name]
    value = _resolve(argument, label, inputs, needed=needed)
    if value is None:
        notes.append(f"Optional argument {name!r} is left out; add it to args if you need it.")
        return []
    if not value:
        # Upstream's conversion of its legacy entries published bare flags as `"value": ""`; an empty
        # argument after the flag would be a stray positional, which e.g. argparse and click refuse.
        return [name]
    resolved[label] = resolved[name] = value
    if argument.get("isRepeated"):
        notes.append(f"Argument {name!r} may be repeated: add more {name} values in args.")
    # A name published with a trailing `=` (`--port=`) takes its value in the same argument.
    return [name + value] if name.endswith("=") else [name, value]


def _key_values(items: list, inputs: _Inputs, notes: list[str], what: str,
                url_names: frozenset[str] = frozenset()) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or not _text(item.get("name")):
            continue
        value = _resolve(item, item["name"], inputs, needed=item["name"] in url_names)
        if value is None:
            notes.append(f"Optional {what} {item['name']!r} is not set.")
            continue
        values[item["name"]] = value
    return values


def _runtime_for(registry_type: str, hint: str | None = None) -> str | None:
    if hint in _RUNTIMES_FOR.get(registry_type, ()):
        return hint
    return _DEFAULT_RUNTIME.get(registry_type)


def _package_launch(package: dict, inputs: _Inputs) -> Launch:
    registry_type = str(package.get("registryType", ""))
    identifier = str(package.get("identifier", ""))
    version = _text(package.get("version"))
    transport = _dict(package.get("transport"))
    hint = _text(package.get("runtimeHint"))
    notes, resolved = [], {}

    if _holds_placeholder(package):
        return _refused(_PLACEHOLDER_NOTE.format(what="package"))
    if registry_type == "mcpb" or _runtime_for(registry_type) is None:
        launch = Launch(kind="download", notes=notes)
        if registry_type == "mcpb":
            if not is_http_url(identifier, schemes=("https",)):
                return _refused(f"The bundle URL {identifier!r} is not an https URL, so it is not offered.")
            launch.download = {"url": identifier, "sha256": _text(package.get("fileSha256"))}
            notes.append("An MCP bundle (.mcpb) is installed, not run from a config: download it, check its "
                         "SHA-256, then open it with a client that supports bundles (e.g. Claude Desktop).")
        else:
            notes.append(f"Registry type {registry_type!r} has no known launcher; install it by hand.")
        return launch

    if not _PACKAGE_IDENTIFIERS[registry_type].fullmatch(identifier):
        return _refused(f"{identifier!r} is not a valid {registry_type} package name, so no command is "
                        "generated for it.")
    if version is not None and not _PACKAGE_VERSION.fullmatch(version):
        return _refused(f"{version!r} is not a valid package version, so no command is generated for it.")
    runtime = _runtime_for(registry_type, hint)
    if hint and hint != runtime:
        notes.append(f"runtimeHint {hint!r} is not a launcher for {registry_type} packages; using {runtime}.")
    launcher = _LAUNCHERS[runtime]
    transport_type = transport.get("type", "stdio")
    serves_http = transport_type in ("streamable-http", "sse")
    # In a package, URL variables name the package's arguments and environment variables.
    url_names = frozenset(_TEMPLATE_VARIABLE.findall(str(transport.get("url", "")))) if serves_http else frozenset()
    env = _key_values(_list(package.get("environmentVariables")), inputs, notes, "environment variable", url_names)
    resolved.update(env)

    args = list(launcher.leading)
    args += _argument_values(_list(package.get("runtimeArguments")), inputs, notes, resolved, url_names)
    if runtime in _CONTAINER_RUNTIMES:
        for name in env:
            args += ["-e", name]
        spec = identifier
        if version and not _IMAGE_REFERENCE.search(identifier.rsplit("/", 1)[-1]):
            spec = f"{identifier}:{version}"
    else:
        spec = launcher.spec.format(identifier=identifier, version=version) if version else identifier
    args.append(spec)
    package_args = _argument_values(_list(package.get("packageArguments")), inputs, notes, resolved, url_names)
    if runtime == "dnx":
        args.append("--yes")
        if package_args:
            args.append("--")
    args += package_args

    launch = Launch(kind="stdio", command=launcher.command, args=args, env=env, notes=notes)
    if serves_http:
        launch.kind = "http" if transport_type == "streamable-http" else "sse"
        launch.url = _expand(str(transport.get("url", "")), resolved.get)
        launch.headers = _key_values(_list(transport.get("headers")), inputs, notes, "header")
        notes.append("This package serves over HTTP: start it with the command in `launch`, then connect "
                     "the client to its URL.")
    launch.inputs = list(inputs.items.values())
    return launch


def _remote_launch(remote: dict, inputs: _Inputs) -> Launch:
    if _holds_placeholder(remote):
        return _refused(_PLACEHOLDER_NOTE.format(what="remote"))
    notes = []
    url = _substitute(str(remote.get("url", "")), _dict(remote.get("variables")), inputs)
    headers = _key_values(_list(remote.get("headers")), inputs, notes, "header")
    kind = "sse" if remote.get("type") == "sse" else "http"
    return Launch(kind=kind, url=url, headers=headers, inputs=list(inputs.items.values()), notes=notes)


def _holds_placeholder(value) -> bool:
    """Whether any string in `value`, keys included, contains `${`, or ends in a `$` that substituting
    `{variables}` could join to a following `{`."""
    if isinstance(value, str):
        return "${" in value or value.endswith("$")
    if isinstance(value, list):
        return any(_holds_placeholder(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_placeholder(key) or _holds_placeholder(item) for key, item in value.items())
    return False


def _refused(reason: str) -> Launch:
    return Launch(kind="refused", notes=[reason])


# --- Rendering per client ------------------------------------------------------


def _render_vscode(key: str, launch: Launch):
    if launch.kind == "stdio":
        entry = {"type": "stdio", "command": launch.command, "args": launch.args}
        if launch.env:
            entry["env"] = launch.env
    else:
        entry = {"type": launch.kind, "url": launch.url}
        if launch.headers:
            entry["headers"] = launch.headers
    config = {"servers": {key: entry}}
    if launch.inputs:
        config["inputs"] = [_vscode_input(item) for item in launch.inputs]
    return config, _separate_launch(launch), []


def _vscode_input(item: Input) -> dict:
    if item.choices:
        declared = {"type": "pickString", "id": item.id, "description": item.description, "options": item.choices}
    else:
        declared = {"type": "promptString", "id": item.id, "description": item.description}
        if item.is_secret:
            declared["password"] = True
    if item.default is not None:
        declared["default"] = item.default
    return declared


def _render_cursor(key: str, launch: Launch):
    if launch.kind == "stdio":
        entry = {"command": launch.command, "args": launch.args}
        if launch.env:
            entry["env"] = launch.env
    else:
        entry = {"url": launch.url}
        if launch.headers:
            entry["headers"] = launch.headers
    notes = []
    if launch.inputs:
        names = sorted({_env_name(item.id) for item in launch.inputs})
        notes.append("Cursor reads ${env:NAME} from the environment it runs in: set " + ", ".join(names)
                     + " before starting Cursor.")
    return {"mcpServers": {key: entry}}, _separate_launch(launch), notes


def _render_claude(key: str, launch: Launch):
    notes = []
    if launch.kind == "stdio":
        entry = {"command": launch.command, "args": launch.args}
        if launch.env:
            entry["env"] = launch.env
    else:
        # Claude Desktop runs stdio servers only: bridge with mcp-remote, which expands
        # ${VAR} in its --header arguments from its environment (keeps spaces out of args).
        args = ["-y", "mcp-remote", launch.url]
        env = {}
        for name, value in launch.headers.items():
            variable = "MCP_HEADER_" + _env_name(name)
            args += ["--header", f"{name}:${{{variable}}}"]
            env[variable] = value
        if launch.kind == "sse":
            args += ["--transport", "sse-only"]
        if launch.url.lower().startswith("http:"):
            # mcp-remote refuses plain http to any host but localhost and 127.0.0.1 without this flag.
            args.append("--allow-http")
        entry = {"command": "npx", "args": args}
        if env:
            entry["env"] = env
        notes.append("Claude Desktop connects to remote servers through the mcp-remote bridge (needs Node.js).")
    if launch.inputs:
        notes.append("Claude Desktop does not prompt for values: replace each ${input:…} with your value "
                     "before saving the file.")
    return {"mcpServers": {key: entry}}, _separate_launch(launch), notes


def _separate_launch(launch: Launch) -> dict | None:
    """For a package that serves over HTTP: the command the user starts before connecting."""
    if launch.command is None or launch.kind == "stdio":
        return None
    separate = {"command": launch.command, "args": launch.args}
    if launch.env:
        separate["env"] = launch.env
    return separate


def _input_for_client(client: str, item: Input) -> dict:
    data = item.as_dict()
    data["reference"] = _REFERENCE_FOR[client](item.id)
    return data


def _env_name(input_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", input_id).strip("_").upper() or "VALUE"


def _input_reference(input_id: str) -> str:
    return "${input:" + input_id + "}"


def _env_reference(input_id: str) -> str:
    """Cursor's config interpolation, read from the environment Cursor runs in."""
    return "${env:" + _env_name(input_id) + "}"


_REFERENCE_FOR = {"vscode": _input_reference, "claude-desktop": _input_reference, "cursor": _env_reference}


# --- Helpers -------------------------------------------------------------------


def _pick(items: list, index: int, what: str) -> dict:
    if not isinstance(index, int) or index < 0 or index >= len(items) or not isinstance(items[index], dict):
        raise ClientConfigError(f"This version has no {what} #{index} (it has {len(items)}).")
    return items[index]


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
