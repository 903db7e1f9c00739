"""Two test runs on one test database (two `make test` at once) take turns instead of breaking each other."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_run_on_the_same_test_database_waits_for_this_one():
    # Without the wait, the second run drops and recreates the test database under this one (or fails on
    # "being accessed by other users"), and both empty the same Redis database around each of their tests.
    # This run's REDIS_URL already points at the test database after the original: give the second the original.
    parts = os.environ["REDIS_URL"].rsplit("/", 1)
    environment = {**os.environ, "REDIS_URL": f"{parts[0]}/{int(parts[1]) - 1}"}
    second = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/project/test_lockout_duration.py"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    watchdog = threading.Timer(90, second.kill)  # a readline below never outlasts the second run
    watchdog.start()
    try:
        output = []
        while (line := second.stdout.readline()) and "waiting for it to finish" not in line:
            output.append(line)
        assert "waiting for it to finish" in line, "".join(output)
        time.sleep(2)
        assert second.poll() is None  # still waiting
    finally:
        watchdog.cancel()
        second.kill()
        second.wait()
