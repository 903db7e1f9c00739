"""The exported OpenAPI schema: served, valid, and compatible with the official `openapi.yaml`."""

import json
import re

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

READ_PATHS = ["/v0.1/servers", "/v0.1/servers/{serverName}/versions", "/v0.1/servers/{serverName}/versions/{version}"]


@pytest.fixture(scope="module")
def our_schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


@pytest.fixture
def official_spec(shared_file):
    return yaml.safe_load(shared_file("openapi.yaml").read_text())


def resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def types_of(schema: dict) -> set:
    value = schema.get("type")
    return set(value) if isinstance(value, list) else {value} if value else set()


def assert_compatible(official_doc, official, our_doc, ours, where, depth=0):
    """Ours promises at least what the official schema describes: same types, formats, properties,
    required keys, closed objects stay closed, enums no wider."""
    official, ours = resolve(official_doc, official), resolve(our_doc, ours)
    if depth > 8:
        return
    if types_of(official):
        assert types_of(official) <= types_of(ours), f"{where}: type {types_of(ours)} vs {types_of(official)}"
    if "format" in official:
        assert ours.get("format") == official["format"], f"{where}: format"
    if "enum" in official:
        assert set(ours.get("enum", [])) <= set(official["enum"]) and ours.get("enum"), f"{where}: enum"
    assert set(official.get("required", [])) <= set(ours.get("required", [])), f"{where}: required"
    if official.get("additionalProperties") is False:
        assert ours.get("additionalProperties") is False, f"{where}: additionalProperties"
    for name, prop in official.get("properties", {}).items():
        assert name in ours.get("properties", {}), f"{where}: property {name} missing"
        assert_compatible(official_doc, prop, our_doc, ours["properties"][name], f"{where}.{name}", depth + 1)
    if "items" in official:
        assert "items" in ours, f"{where}: items"
        assert_compatible(official_doc, official["items"], our_doc, ours["items"], f"{where}[]", depth + 1)


def test_every_official_read_path_parameter_and_response_is_compatible(official_spec, our_schema):
    for path in READ_PATHS:
        official_op, our_op = official_spec["paths"][path]["get"], our_schema["paths"][path]["get"]
        ours = {(p["name"], p["in"]): p for p in our_op["parameters"]}
        for parameter in official_op["parameters"]:
            key = (parameter["name"], parameter["in"])
            assert key in ours, f"{path}: parameter {key} missing"
            assert ours[key].get("required", False) == parameter.get("required", False), f"{path}: {key} required"
            assert_compatible(official_spec, parameter["schema"], our_schema, ours[key]["schema"], f"{path} {key}")
        for status, response in official_op["responses"].items():
            assert status in our_op["responses"], f"{path}: response {status} missing"
            official_schema = response["content"]["application/json"]["schema"]
            if status == "200":
                our_content = our_op["responses"][status]["content"]["application/json"]["schema"]
                assert our_content == official_schema  # the same component name…
                assert_compatible(official_spec, official_schema, our_schema, our_content, f"{path} {status}")


def test_every_official_component_used_by_read_responses_is_present(official_spec, our_schema):
    for name in ("ServerList", "ServerResponse", "ServerDetail", "Repository", "Package"):
        assert_compatible(official_spec, {"$ref": f"#/components/schemas/{name}"},
                          our_schema, {"$ref": f"#/components/schemas/{name}"}, name)


def test_the_compatibility_check_can_fail(official_spec, our_schema):
    broken = json.loads(json.dumps(our_schema))
    del broken["components"]["schemas"]["OfficialMeta"]["properties"]["isLatest"]
    with pytest.raises(AssertionError, match="isLatest"):
        assert_compatible(official_spec, {"$ref": "#/components/schemas/ServerResponse"},
                          broken, {"$ref": "#/components/schemas/ServerResponse"}, "ServerResponse")


def test_schema_describes_limits_problems_and_the_org_block(our_schema, settings):
    operation = our_schema["paths"]["/v0.1/servers"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 30)
    for status in ("400", "422"):
        assert "application/problem+json" in operation["responses"][status]["content"]
    lookup = our_schema["paths"]["/v0.1/servers/{serverName}/versions/{version}"]["get"]
    assert "application/problem+json" in lookup["responses"]["404"]["content"]
    meta = our_schema["components"]["schemas"]["ServerResponse"]["properties"]["_meta"]
    assert set(meta["required"]) == {"io.modelcontextprotocol.registry/official", settings.REGISTRY_META_NAMESPACE}
    assert not any(path.startswith("/v0/") for path in our_schema["paths"])


def test_every_path_parameter_is_a_variable_of_its_path_and_every_error_is_a_problem(our_schema):
    """OpenAPI requires the two to match exactly; code generators fail on a stray path parameter."""
    for path, operations in our_schema["paths"].items():
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([^}]+)}", path)), (method, path)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert "application/problem+json" in response.get("content", {}), (method, path, status)


def test_schema_is_served_as_json_and_yaml(client):
    as_json = client.get("/openapi.json")
    as_yaml = client.get("/openapi.yaml")
    assert as_json.status_code == as_yaml.status_code == 200
    assert json.loads(as_json.content)["paths"].keys() == yaml.safe_load(as_yaml.content)["paths"].keys()


def test_spectacular_command_writes_a_valid_schema_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    assert set(READ_PATHS) <= set(yaml.safe_load(target.read_text())["paths"])


def test_docs_serve_swagger_ui_from_local_assets(client):
    from django.contrib.staticfiles import finders

    response = client.get("/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html and "cdn" not in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_docs_load_their_start_up_script_from_a_url(client):
    # The Content-Security-Policy runs no inline script (tests/project/test_csp.py).
    html = client.get("/docs").content.decode()
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">',
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js">',
        '<script src="/docs?script=">',
    ]
    assert "<style" not in html
    script = client.get("/docs?script=")
    assert script["Content-Type"] == "application/javascript"
    assert 'url: "/openapi.json"' in script.content.decode()
