from django.contrib import admin
from django.urls import include, path
from health_check.views import HealthCheckView

# Operational health for load balancers, apart from /v0.1/health, which keeps upstream's shape.
health_check = HealthCheckView.as_view(checks=[
    "health_check.checks.Database",
    "health_check.checks.Cache",  # the cache is the Redis that also brokers Celery
    "health_check.contrib.celery.Ping",
])

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health_check, name="health"),
    path("", include("api.urls")),
]
