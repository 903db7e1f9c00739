"""Gunicorn settings for the web process: the Procfile, the Docker image and bench/api_bench.py use them.

Processes rather than threads: serving the API is CPU-bound Python, and threads of one process take
turns on the GIL. On the 2-core bench machine, 5 processes of 1 thread served 25-40 % more lookups per
second than 2 processes of 4 threads (bench/README.md, "API benchmark").
"""

import os

from registry_project.env import env_int

# Each process holds a database connection: the cap keeps a big host within PostgreSQL's default
# 100 connections, beside the worker, beat and a second replica (gunicorn's docs find 4-12 enough).
MAX_DEFAULT_WORKERS = 12

# The CPUs this process may run on (a container's cpuset), not all of the host's.
available_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

worker_class = "gthread"  # keeps idle keep-alive connections off the request thread
workers = env_int("WEB_CONCURRENCY", min(2 * available_cpus + 1, MAX_DEFAULT_WORKERS), minimum=1)
threads = 1
# gunicorn >= 25 otherwise listens on one control socket per user ($HOME/.gunicorn/gunicorn.ctl): a
# second instance on the host takes it over and deletes it on stop. Nothing here uses gunicornc.
control_socket_disable = True
