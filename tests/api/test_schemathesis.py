"""Schemathesis against our own schema, in-process over WSGI, with real data in PostgreSQL:
no 5xx, and no response that contradicts the schema (status codes, content types, bodies, headers)."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from curation.choices import CurationState
from registry_project.wsgi import application
from tests.api.registry_helpers import make_server, set_server_state

pytestmark = pytest.mark.django_db

WITH_PARAMETERS = ["GET /v0.1/servers", "GET /v0.1/servers/{serverName}/versions",
                   "GET /v0.1/servers/{serverName}/versions/{version}",
                   "GET /v0.1/x/com.example.registry/client-config/{serverName}"]
CASES = [
    *((label, mode) for label in WITH_PARAMETERS for mode in GenerationMode),
    *((label, GenerationMode.POSITIVE) for label in ("GET /v0.1/health", "GET /v0.1/ping", "GET /v0.1/version")),
]


@pytest.fixture
def registry_schema():
    """Our served schema, loaded over WSGI. Raw WSGI calls fire request_finished, which would close the
    test's DB connection, so that handler is detached meanwhile (as Django's test client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/openapi.json", application)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def registry_data():
    make_server("io.github.acme/weather", ("1.0.0", "1.1.0", "1.0.0+b1"))
    make_server("com.example/tool", ("0.1.0",), meta={"owner": "platform"})
    make_server("io.github.acme/pending", state=CurationState.PENDING)
    set_server_state(make_server("io.github.acme/withdrawn", ("2.0.0",)), CurationState.BLOCKED)


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_api_honours_its_schema(registry_schema, registry_data, label, mode):
    operations = {op.label: op for op in (result.ok() for result in registry_schema.get_all_operations())}

    @given(case=operations[label].as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def exchange(case):
        # Schema-valid yet refused, as the schema's error responses say: a `cursor` this registry did not issue
        # (400), `include_deleted=false` with `updated_since` (400), a `package` or `remote` index the document
        # lacks (422).
        query = case.query or {}
        refusable = (bool(query.get("cursor")) or ("updated_since" in query and query.get("include_deleted") is False)
                     or "package" in query or "remote" in query)
        case.call_and_validate(excluded_checks=[positive_data_acceptance] if refusable else None)

    exchange()
