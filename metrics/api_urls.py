"""API routes under /api/v1/metrics/ (included by crm/urls.py before the general API)."""

from django.urls import path

from metrics import api

app_name = "metrics-api"

urlpatterns = [
    path("", api.MetricsView.as_view(), name="metrics"),
    path("timeseries/", api.TimeseriesView.as_view(), name="timeseries"),
]
