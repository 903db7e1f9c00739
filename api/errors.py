"""RFC 9457 problem details, shaped as upstream's server sends them (`title`, `status`, `detail`, `errors?`)."""

from http import HTTPStatus

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from api.rendering import compact_json

PROBLEM_CONTENT_TYPE = "application/problem+json"
SERVER_NOT_FOUND = "Server not found"
ENDPOINT_NOT_FOUND = "Endpoint not found. See /docs for the API documentation."
INVALID_UPDATED_SINCE = "Invalid updated_since format: expected RFC3339 timestamp (e.g., 2025-08-07T13:15:04.280Z)"
NUL_BYTES = "Invalid request: NUL bytes are not allowed in the path or query"
INCLUDE_DELETED_CONFLICT = (
    "Cannot set include_deleted=false when using updated_since (incremental sync requires deleted servers)"
)


def problem_response(status: int, detail: str, errors: list[dict] | None = None) -> HttpResponse:
    body = {"title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return HttpResponse(
        compact_json(body),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


class Problem(exceptions.APIException):
    """An API error carrying its own status, detail and parameter errors."""

    def __init__(self, status: int, detail: str, errors: list[dict] | None = None):
        super().__init__(detail=detail)
        self.status_code = status
        self.problem_detail = detail
        self.errors = errors


class ServerNotFound(Problem):
    def __init__(self):
        super().__init__(404, SERVER_NOT_FOUND)


def query_error(name: str, message: str, value) -> dict:
    return {"message": message, "location": f"query.{name}", "value": value}


def exception_handler(exc, context):
    """DRF exception handler: every error under the API becomes problem+json."""
    if isinstance(exc, Problem):
        return problem_response(exc.status_code, exc.problem_detail, exc.errors)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django answers 500 and the API middleware reshapes it
    detail = exc.detail if isinstance(exc, exceptions.APIException) else None
    message = detail if isinstance(detail, str) else HTTPStatus(response.status_code).phrase
    problem = problem_response(response.status_code, str(message))
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            problem[header] = response[header]
    return problem
