"""The README's configuration table, docker-compose.yml and the Procfile agree with what the code reads."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
READERS = ["registry_project/settings.py", "registry_project/gunicorn_conf.py"]
# Build arguments of the image, and DEBUG, which a production stack never turns on.
NOT_PASSED_TO_CONTAINERS = {"DJANGO_DEBUG", "REGISTRY_VERSION", "REGISTRY_GIT_COMMIT", "REGISTRY_BUILD_TIME"}


def variables_read() -> set[str]:
    text = "".join((ROOT / path).read_text() for path in READERS)
    return set(re.findall(r"\benv_[a-z_]+\(\s*\"([A-Z][A-Z0-9_]+)\"", text))


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_readme_table_lists_every_variable_read():
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", (ROOT / "README.md").read_text(), re.MULTILINE))
    table |= {"REGISTRY_GIT_COMMIT", "REGISTRY_BUILD_TIME"}  # on the REGISTRY_VERSION row
    assert variables_read() - table == set()


def test_compose_passes_every_setting_through_to_the_app_containers():
    # Anything of the README's table that an operator exports (or puts in .env) reaches web, worker and beat.
    environment = compose()["x-app"]["environment"]
    assert variables_read() - NOT_PASSED_TO_CONTAINERS - set(environment) == set()


def test_compose_runs_the_worker_and_beat_as_the_procfile_does():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    services = compose()["services"]
    for name in ("worker", "beat"):
        assert " ".join(services[name]["command"]) == procfile[name]
