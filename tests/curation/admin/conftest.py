"""Fixtures of the admin tests: one user and one logged-in client per role."""

import logging

import pytest

from tests.curation.admin.support import AUDITORS, CURATORS, logged_in, make_user


@pytest.fixture(autouse=True)
def quiet_refusals():
    """Django logs each 403/404 as a warning with its traceback, which the dev console renderer
    pretty-prints at ~0.4 s apiece; these tests provoke dozens on purpose."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture
def curator(db):
    return make_user("carol", group=CURATORS)


@pytest.fixture
def auditor(db):
    return make_user("audrey", group=AUDITORS)


@pytest.fixture
def staff(db):
    return make_user("stan")


@pytest.fixture
def superuser(db):
    return make_user("root", is_superuser=True)


@pytest.fixture
def curator_client(curator):
    return logged_in(curator)


@pytest.fixture
def auditor_client(auditor):
    return logged_in(auditor)


@pytest.fixture
def staff_client(staff):
    return logged_in(staff)


@pytest.fixture
def superuser_client(superuser):
    return logged_in(superuser)
