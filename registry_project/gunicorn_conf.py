"""Gunicorn settings for the web process: the Procfile, the Docker image and bench/api_bench.py use them.

Processes rather than threads: serving the API is CPU-bound Python, and threads of one process take
turns on the GIL. On the 2-core bench machine, 5 processes of 1 thread served 25-40 % more lookups per
second than 2 processes of 4 threads (bench/README.md, "API benchmark").
"""

import multiprocessing
import os

worker_class = "gthread"  # keeps idle keep-alive connections off the request thread
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1)
threads = 1
