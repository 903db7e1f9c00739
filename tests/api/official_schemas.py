"""Validators for the official `openapi.yaml` components and `server.json` schema (../shared)."""

import json

import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SERVER_SCHEMA = "server.schema.2025-12-11.json"


class OfficialSchemas:
    def __init__(self, shared_file):
        spec = yaml.safe_load(shared_file("openapi.yaml").read_text())
        self.spec = spec
        base = spec["$id"]
        registry = Registry().with_resource(base, Resource.from_contents(spec, default_specification=DRAFT202012))
        self._components = {
            name: Draft202012Validator({"$ref": f"{base}#/components/schemas/{name}"}, registry=registry,
                                       format_checker=Draft202012Validator.FORMAT_CHECKER)
            for name in spec["components"]["schemas"]
        }
        server_schema = json.loads(shared_file(SERVER_SCHEMA).read_text())
        self._server = Draft7Validator(server_schema, format_checker=Draft7Validator.FORMAT_CHECKER)

    def errors(self, component: str, instance) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self._components[component].iter_errors(instance)]

    def server_errors(self, server: dict) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self._server.iter_errors(server)]

    def assert_list(self, page: dict):
        assert not self.errors("ServerList", page), self.errors("ServerList", page)
        for entry in page["servers"]:
            self.assert_entry(entry)

    def assert_entry(self, entry: dict):
        assert not self.errors("ServerResponse", entry), self.errors("ServerResponse", entry)
        assert not self.server_errors(entry["server"]), self.server_errors(entry["server"])
