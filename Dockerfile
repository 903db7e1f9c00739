# Production image: gunicorn for the web, the same image for the Celery worker and beat.
FROM python:3.11-slim-bookworm

# No embedded PostgreSQL or Redis in the image: a missing DATABASE_URL or REDIS_URL fails the start, naming it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REGISTRY_EMBEDDED_SERVICES=false

RUN useradd --system --create-home --uid 1000 registry
WORKDIR /app

COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

# Owned by root: the runtime user reads the code and the collected static files, and writes neither.
COPY . .
# collectstatic only needs settings to import; these placeholders never reach a running container.
RUN DJANGO_SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --no-input --verbosity 0

# What /v0.1/version reports; declared last, so a new commit does not invalidate the layers above.
ARG REGISTRY_VERSION=dev
ARG REGISTRY_GIT_COMMIT=unknown
ARG REGISTRY_BUILD_TIME=unknown
ENV REGISTRY_VERSION=$REGISTRY_VERSION \
    REGISTRY_GIT_COMMIT=$REGISTRY_GIT_COMMIT \
    REGISTRY_BUILD_TIME=$REGISTRY_BUILD_TIME

USER registry
EXPOSE 8000
# For the web container; docker-compose.yml gives the worker its own check and turns it off for the others.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "registry_project/healthcheck.py"]
CMD ["gunicorn", "registry_project.wsgi", "--config", "python:registry_project.gunicorn_conf", \
     "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
