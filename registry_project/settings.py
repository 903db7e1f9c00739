"""One settings module, read from the environment (see the README's configuration table)."""

from datetime import timedelta
from pathlib import Path

import structlog
from csp.constants import NONE, SELF, UNSAFE_INLINE

from registry_project.env import (
    env_bool,
    env_choice,
    env_database,
    env_duration,
    env_hosts,
    env_http_url,
    env_int,
    env_list,
    env_log_level,
    env_meta_namespace,
    env_origins,
    env_redis_url,
    env_registry_url,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or ("insecure-development-key" if DEBUG else None)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set (or set DJANGO_DEBUG=true for development).")
# Earlier keys, still accepted for what they signed (sessions, API cursors) while a rotation settles.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_hosts("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_origins("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "health_check",
    "django_filters",
    "django_celery_beat",
    "axes",
    "csp",
    "mirror",
    "curation",
    "api",
]

MIDDLEWARE = [
    # Outermost, so CORS and problem+json cover every /v0.1 and /v0 response, redirects included.
    "api.middleware.RegistryApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "registry_project.middleware.RefuseNulBytesInAdminMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "registry_project.urls"
WSGI_APPLICATION = "registry_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
# Django turns psycopg's prepared statements off; the API's hot queries (server-side bound, see
# api/selectors.py) need them, as planning costs as much as running them. ORM queries bind client-side
# and are never prepared. Turn off behind a pooler that cannot keep prepared statements.
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    5 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# Repeated failed logins to one account from one address lock that pair out for a while (django-axes):
# guessing a password gets slow, and nobody else can lock a staff member out from elsewhere.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_duration("ADMIN_LOGIN_LOCKOUT", timedelta(minutes=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are kept; successful logins need no table of their own
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
FORMAT_MODULE_PATH = ["registry_project.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Static files of the project's own templates (templates/): the admin's and the 500 page's stylesheets,
# django-celery-beat's form script.
STATICFILES_DIRS = [BASE_DIR / "registry_project" / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^health/(worker/)?$"]  # load balancers and monitors probe the backend over plain http
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0, minimum=0)
# Only behind a proxy that sets X-Forwarded-Proto itself: a client could otherwise claim https.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_TLS_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp), defence in depth for the upstream text the admin and the catalog show:
# scripts and styles come only from this site's files, never inline (no <script> or <style> element, no style
# attribute), and nothing is evaluated (Swagger UI included: its start-up script is served from `docs?script=`).
# The catalog pages add `https:` to img-src for server icons (api/catalog_views.py), the health status page its
# own <style> (registry_project/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- Mirror ---------------------------------------------------------------
MIRROR_UPSTREAM_URL = env_registry_url("MIRROR_UPSTREAM_URL", "https://registry.modelcontextprotocol.io")
MIRROR_SYNC_INTERVAL = env_duration("MIRROR_SYNC_INTERVAL", timedelta(hours=1))
MIRROR_FULL_SYNC_INTERVAL = env_duration("MIRROR_FULL_SYNC_INTERVAL", timedelta(days=1))
# updated_since is strict `>` upstream and its list is ordered by name, not time:
# start from the last good run's start minus this margin.
MIRROR_SAFETY_MARGIN = env_duration("MIRROR_SAFETY_MARGIN", timedelta(minutes=5))
MIRROR_PAGE_SIZE = env_int("MIRROR_PAGE_SIZE", 100, minimum=1, maximum=100)  # upstream answers 422 above 100
MIRROR_MAX_PAGES = env_int("MIRROR_MAX_PAGES", 5000, minimum=1)
MIRROR_BATCH_ENTRIES = env_int("MIRROR_BATCH_ENTRIES", 1000, minimum=1)
MIRROR_HTTP_TIMEOUT = env_int("MIRROR_HTTP_TIMEOUT", 30, minimum=1)
MIRROR_RETRY_ATTEMPTS = env_int("MIRROR_RETRY_ATTEMPTS", 5, minimum=1)
# The longest Retry-After the sync will honour; a larger one is cut to this.
MIRROR_RETRY_MAX_WAIT = env_duration("MIRROR_RETRY_MAX_WAIT", timedelta(minutes=2))
# The official server.json schema for entries without `$schema`. Entries naming another official
# schema (under https://static.modelcontextprotocol.io/schemas/) are checked against that one.
MIRROR_SERVER_SCHEMA_URL = env_http_url(
    "MIRROR_SERVER_SCHEMA_URL", "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
)
# Celery soft time limit of one sync (the hard limit is one minute later).
MIRROR_SYNC_TIME_LIMIT = env_duration("MIRROR_SYNC_TIME_LIMIT", timedelta(minutes=55))

# --- Curation -------------------------------------------------------------
REGISTRY_META_NAMESPACE = env_meta_namespace("REGISTRY_META_NAMESPACE", "com.example.registry/curation")
REGISTRY_META_SCHEMA = env_str("REGISTRY_META_SCHEMA", "") or None
REGISTRY_DEFAULT_VERSION_POLICY = env_choice("REGISTRY_DEFAULT_VERSION_POLICY", "all", ("all", "reviewed"))

# --- API ------------------------------------------------------------------
REGISTRY_CACHE_MAX_AGE = env_int("REGISTRY_CACHE_MAX_AGE", 30, minimum=0)
# What GET /v0.1/version reports (set by the image build).
REGISTRY_VERSION = env_str("REGISTRY_VERSION", "dev")
REGISTRY_GIT_COMMIT = env_str("REGISTRY_GIT_COMMIT", "unknown")
REGISTRY_BUILD_TIME = env_str("REGISTRY_BUILD_TIME", "unknown")
# The base URL clients are told to use (catalog "How to connect"); by default built from each request.
REGISTRY_PUBLIC_URL = env_registry_url("REGISTRY_PUBLIC_URL", "") if env_str("REGISTRY_PUBLIC_URL") else None

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Internal MCP Registry API",
    "DESCRIPTION": "The official MCP Registry `/v0.1` API, serving only the servers this company approved.",
    "VERSION": "2025-12-01",
    "SERVE_INCLUDE_SCHEMA": False,
    "OAS_VERSION": "3.1.0",
    "PREPROCESSING_HOOKS": ["api.schema.describe_v01_paths"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_registry_components"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With late acks, Redis hands a task that is still unacknowledged after this long to another worker: it must
# outlast the longest sync (its hard time limit), or a long sync is started a second time while it runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": max(3600, int(MIRROR_SYNC_TIME_LIMIT.total_seconds()) + 60 + 300),
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "mirror-sync": {"task": "mirror.tasks.mirror_sync", "schedule": MIRROR_SYNC_INTERVAL.total_seconds()},
}

# --- Logging --------------------------------------------------------------
LOG_LEVEL = env_log_level("LOG_LEVEL", "INFO")
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# What structlog's own events get before rendering, given also to the standard library's records (Django's
# request errors, Celery, django-axes), so that every line carries its time, level, logger and request id.
_LOG_FIELDS = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.TimeStamper(fmt="iso"),
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": structlog.stdlib.ProcessorFormatter,
            # Plain tracebacks: the pretty default costs ~0.4 s per logged exception.
            "processor": structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
            "foreign_pre_chain": _LOG_FIELDS,
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # pgserver logs each process's exit at INFO when the embedded PostgreSQL is in use.
    "loggers": {"httpx": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        *_LOG_FIELDS,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    cache_logger_on_first_use=True,
)
