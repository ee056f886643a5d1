"""The admin for metric snapshots: a read-only view of what the daily job computed."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from metrics.models import CLVModelFit, MetricSnapshot


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(admin.ModelAdmin):
    """Snapshots are recomputed by the job, never typed in; the admin only reads them."""

    list_display = (
        "day",
        "metric",
        "dimension",
        "dimension_value",
        "value",
        "n",
        "ci_low",
        "ci_high",
        "computed_at",
    )
    list_filter = ("metric", "dimension")
    date_hierarchy = "day"
    search_fields = ("metric", "dimension_value")
    ordering = ("-day", "metric", "dimension", "dimension_value")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: MetricSnapshot | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: MetricSnapshot | None = None
    ) -> bool:
        return False


@admin.register(CLVModelFit)
class CLVModelFitAdmin(admin.ModelAdmin):
    """Fits come from `manage.py clv fit`; the admin shows them and may delete old ones."""

    list_display = ("fitted_at", "until", "time_unit", "customers")
    list_filter = ("time_unit",)
    date_hierarchy = "fitted_at"
    ordering = ("-fitted_at",)
    readonly_fields = ("fitted_at", "until", "time_unit", "customers", "params", "calibration")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CLVModelFit | None = None) -> bool:
        return False
