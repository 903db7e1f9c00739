import dataclasses

import celery
from celery.app import app_or_default
from django.contrib import admin
from django.urls import include, path
from health_check.contrib.celery import Ping
from health_check.views import HealthCheckView


@dataclasses.dataclass
class WorkerPing(Ping):
    """Celery's ping check under a stable JSON key: the key is the check's repr, and the app's holds its address."""

    app: celery.Celery = dataclasses.field(default_factory=app_or_default, repr=False)


# Operational health, apart from /v0.1/health, which keeps upstream's shape. /health/ is what the web
# needs (load balancers probe it); /health/worker/ adds the Celery worker, for monitoring.
WEB_CHECKS = [
    "health_check.checks.Database",
    "health_check.checks.Cache",  # the cache is the Redis that also brokers Celery
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", HealthCheckView.as_view(checks=WEB_CHECKS), name="health"),
    path("health/worker/", HealthCheckView.as_view(checks=[*WEB_CHECKS, WorkerPing]), name="health-worker"),
    path("", include("api.urls")),
]
