"""JSON Schemas of the three client configuration files, written from each client's documentation,
plus the invariants every generated configuration must keep.

- VS Code `.vscode/mcp.json`: "MCP configuration reference",
  https://code.visualstudio.com/docs/copilot/reference/mcp-configuration (top-level `servers` and
  `inputs`; stdio servers `type`/`command`/`args`/`env`; `http`/`sse` servers `url`/`headers`; inputs
  `promptString` with `password`, `pickString` with `options`, both with `id`/`description`/`default`).
- Claude Desktop `claude_desktop_config.json`: MCP quickstart "Connect to local MCP servers",
  https://modelcontextprotocol.io/quickstart/user (`mcpServers` → `command`, `args`, `env`; stdio only).
- Cursor `.cursor/mcp.json`: https://cursor.com/docs/context/mcp ("Configuration format": `mcpServers` →
  stdio `command`/`args`/`env`, or remote `url`/`headers`; "Config interpolation" `${env:NAME}`).
"""

import re

import jsonschema

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_ARGS = {"type": "array", "items": {"type": "string"}}

VSCODE_SCHEMA = {
    "type": "object",
    "required": ["servers"],
    "additionalProperties": False,
    "properties": {
        "servers": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "command"],
                        "additionalProperties": False,
                        "properties": {"type": {"const": "stdio"}, "command": {"type": "string", "minLength": 1},
                                       "args": _ARGS, "env": _STRING_MAP},
                    },
                    {
                        "type": "object",
                        "required": ["type", "url"],
                        "additionalProperties": False,
                        "properties": {"type": {"enum": ["http", "sse"]}, "url": {"type": "string", "minLength": 1},
                                       "headers": _STRING_MAP},
                    },
                ]
            },
        },
        "inputs": {
            "type": "array",
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "id", "description"],
                        "additionalProperties": False,
                        "properties": {"type": {"const": "promptString"}, "id": {"type": "string"},
                                       "description": {"type": "string"}, "password": {"type": "boolean"},
                                       "default": {"type": "string"}},
                    },
                    {
                        "type": "object",
                        "required": ["type", "id", "description", "options"],
                        "additionalProperties": False,
                        "properties": {"type": {"const": "pickString"}, "id": {"type": "string"},
                                       "description": {"type": "string"},
                                       "options": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                       "default": {"type": "string"}},
                    },
                ]
            },
        },
    },
}

CLAUDE_DESKTOP_SCHEMA = {
    "type": "object",
    "required": ["mcpServers"],
    "additionalProperties": False,
    "properties": {
        "mcpServers": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["command"],
                "additionalProperties": False,
                "properties": {"command": {"type": "string", "minLength": 1}, "args": _ARGS, "env": _STRING_MAP},
            },
        }
    },
}

CURSOR_SCHEMA = {
    "type": "object",
    "required": ["mcpServers"],
    "additionalProperties": False,
    "properties": {
        "mcpServers": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["command"],
                        "additionalProperties": False,
                        "properties": {"command": {"type": "string", "minLength": 1}, "args": _ARGS,
                                       "env": _STRING_MAP},
                    },
                    {
                        "type": "object",
                        "required": ["url"],
                        "additionalProperties": False,
                        "properties": {"url": {"type": "string", "minLength": 1}, "headers": _STRING_MAP},
                    },
                ]
            },
        }
    },
}

CLIENT_SCHEMAS = {"vscode": VSCODE_SCHEMA, "claude-desktop": CLAUDE_DESKTOP_SCHEMA, "cursor": CURSOR_SCHEMA}
_REFERENCE = {
    "vscode": re.compile(r"\$\{input:([A-Za-z0-9_.-]+)\}"),
    "claude-desktop": re.compile(r"\$\{input:([A-Za-z0-9_.-]+)\}"),
    "cursor": re.compile(r"\$\{env:([A-Z0-9_]+)\}"),
}
_ONLY_REFERENCE = {
    "vscode": re.compile(r"^\$\{input:[A-Za-z0-9_.-]+\}$"),
    "claude-desktop": re.compile(r"^\$\{input:[A-Za-z0-9_.-]+\}$"),
    "cursor": re.compile(r"^\$\{env:[A-Z0-9_]+\}$"),
}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def check_config(result: dict, document: dict) -> None:
    """The config validates against its client's schema and keeps the input invariants."""
    client, config = result["client"], result["config"]
    if config is None:
        assert result["download"] or result["notes"], "a package without a config must say why"
        return
    jsonschema.validate(config, CLIENT_SCHEMAS[client])
    servers = config.get("servers") or config.get("mcpServers")
    assert list(servers) == [result["serverKey"]]

    body = {k: v for k, v in config.items() if k != "inputs"}
    used = {m for text in _strings(body) for m in _REFERENCE[client].findall(text)}
    if result["launch"]:
        used |= {m for text in _strings(result["launch"]) for m in _REFERENCE[client].findall(text)}
    listed = {_REFERENCE[client].findall(item["reference"])[0] for item in result["inputs"]}
    assert used == listed, "every reference is listed as an input, and every input is used"
    if client == "vscode":
        declared = {item["id"] for item in config.get("inputs", [])}
        assert declared == listed
        for item in config.get("inputs", []):
            listed_input = next(i for i in result["inputs"] if i["id"] == item["id"])
            assert item.get("password", False) == (listed_input["isSecret"] and item["type"] == "promptString")

    # Secret or required environment variables without a published value are never literal.
    source = result["source"]
    if source["type"] == "package":
        package = document["packages"][source["index"]]
        entry = servers[result["serverKey"]]
        env = entry.get("env") or (result["launch"] or {}).get("env") or {}
        for variable in package.get("environmentVariables", []):
            if (variable.get("isSecret") or variable.get("isRequired")) and "value" not in variable:
                assert _ONLY_REFERENCE[client].match(env[variable["name"]]), (variable["name"], env)
