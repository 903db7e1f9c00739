import dataclasses

import celery
from celery.app import app_or_default
from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.utils.decorators import method_decorator
from health_check.contrib.celery import Ping
from health_check.views import HealthCheckView


@dataclasses.dataclass
class WorkerPing(Ping):
    """Celery's ping check under a stable JSON key: the key is the check's repr, and the app's holds its address."""

    app: celery.Celery = dataclasses.field(default_factory=app_or_default, repr=False)


class HealthCheckPage(HealthCheckView):
    """Its HTML status page styles itself with an inline <style>: the Content-Security-Policy allows that there,
    as the page shows no upstream data."""

    @method_decorator(csp_update({"style-src": [UNSAFE_INLINE]}))
    def render_to_response(self, context, **response_kwargs):
        return super().render_to_response(context, **response_kwargs)


# Operational health, apart from /v0.1/health, which keeps upstream's shape. /health/ is what the web
# needs (load balancers probe it); /health/worker/ adds the Celery worker, for monitoring.
WEB_CHECKS = [
    "health_check.checks.Database",
    "health_check.checks.Cache",  # the cache is the Redis that also brokers Celery
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", HealthCheckPage.as_view(checks=WEB_CHECKS), name="health"),
    path("health/worker/", HealthCheckPage.as_view(checks=[*WEB_CHECKS, WorkerPing]), name="health-worker"),
    path("", include("api.urls")),
]
