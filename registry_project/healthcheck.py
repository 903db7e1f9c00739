"""The web container's health check (the slim image has no curl): exit 0 when /health/ answers 200.

    python registry_project/healthcheck.py [URL]

Run as a script rather than with -m, so that a probe does not import the package (and Celery with it).
"""

import os
import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/health/"


def _allowed_hosts() -> str:
    """DJANGO_ALLOWED_HOSTS as the settings read it: from the file DJANGO_ALLOWED_HOSTS_FILE names, if set."""
    path = os.environ.get("DJANGO_ALLOWED_HOSTS_FILE")
    if path:
        with open(path) as file:
            return file.read().strip()
    return os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost")


def main(url: str) -> None:
    # Django answers 400 to a Host it does not allow, so ask as the first allowed host
    # (".example.com" allows example.com itself, "*" any host).
    host = _allowed_hosts().split(",")[0].strip().lstrip("*.") or "localhost"
    request = urllib.request.Request(url, headers={"Host": host})
    without_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        without_proxy.open(request, timeout=5)
    except OSError as error:  # HTTPError (any status but 2xx), refused, timed out
        sys.exit(f"unhealthy: {error}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL)
