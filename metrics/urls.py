"""The operator UI's pages for metrics."""

from django.urls import path  # noqa: F401 - pages join here as they are built

app_name = "metrics"

urlpatterns: list = []
