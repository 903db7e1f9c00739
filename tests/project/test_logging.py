"""Structured logs (convention 14): records from the standard library's loggers get the same fields as structlog's."""

import logging
import re

import structlog
from django.conf import settings


def console_formatter() -> logging.Formatter:
    config = {name: value for name, value in settings.LOGGING["formatters"]["plain"].items() if name != "()"}
    return settings.LOGGING["formatters"]["plain"]["()"](**config)


def test_a_standard_library_record_carries_its_time_level_logger_and_request_id():
    # Django's request errors, Celery's worker and django-axes log through the standard library.
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/x",),
                               None)

    with structlog.contextvars.bound_contextvars(request_id="3f2a"):
        line = console_formatter().format(record)

    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[error\s*\] Internal Server Error: /x\s+"
                    r"\[django\.request\] request_id=3f2a$", line), line
