# Production image: gunicorn for the web, the same image for the Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --create-home --uid 1000 registry
WORKDIR /app

COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY --chown=registry:registry . .
# collectstatic only needs settings to import; these placeholders never reach a running container.
RUN DJANGO_SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --no-input --verbosity 0

USER registry
EXPOSE 8000
CMD ["gunicorn", "registry_project.wsgi", "--config", "python:registry_project.gunicorn_conf", \
     "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
