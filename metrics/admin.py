"""The admin for metric snapshots and rollups: read-only views of what the daily jobs computed."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.admin_base import ComputedAdmin
from metrics.models import (
    CLVModelFit,
    FactRollup,
    FactRollupDay,
    MetricSnapshot,
    PurchaseDay,
    PurchaseDayRollup,
    PurchaseDaysBuild,
    ResolutionTimeRollup,
)


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


@admin.register(FactRollupDay)
class FactRollupDayAdmin(ComputedAdmin):
    """Which days of each family the dashboard reads from the rollups (operations: a day
    stays stale until the `rollups` job runs again)."""

    list_display = ("family", "day", "version", "rolled_version", "rolled_at")
    list_filter = ("family",)
    date_hierarchy = "day"
    ordering = ("family", "-day")


@admin.register(FactRollup)
class FactRollupAdmin(ComputedAdmin):
    """The rolled-up aggregates per family, day and group."""

    list_display = ("family", "day", "channel", "operator_id", "personalized")
    list_filter = ("family", "channel")
    date_hierarchy = "day"
    ordering = ("family", "-day", "id")


@admin.register(PurchaseDay)
class PurchaseDayAdmin(ComputedAdmin):
    """The purchase summary per customer and day that the repeat, churn, retention and CLV
    figures read; rebuilt by the `purchase_days` job and kept current on every purchase write."""

    list_display = ("customer", "day", "lines", "revenue", "previous_day", "next_day")
    date_hierarchy = "day"
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    search_fields = ("customer__full_name",)
    ordering = ("-day", "customer_id")
    show_full_result_count = False


@admin.register(PurchaseDayRollup)
class PurchaseDayRollupAdmin(ComputedAdmin):
    """The purchase summary rolled up per day (metrics/customer_rollup.py): the day's totals
    and the counts of customer-days by their earlier purchase day; written by the `rollups`
    job, read for the days its markers (family "customer_days") cover."""

    list_display = ("day", "lag", "lag_day", "customers", "new", "revenue")
    list_filter = ("lag",)
    date_hierarchy = "day"
    ordering = ("-day", "lag", "lag_day")
    show_full_result_count = False


@admin.register(ResolutionTimeRollup)
class ResolutionTimeRollupAdmin(ComputedAdmin):
    """The tickets resolved per day, flag and bucket of resolution time, from which the median
    resolution time finds its middle (metrics/resolution_histogram.py); written by the
    `rollups` job with the family "tickets_resolved", read for the days its markers cover."""

    list_display = ("day", "personalized", "bucket", "tickets")
    list_filter = ("personalized",)
    date_hierarchy = "day"
    ordering = ("-day", "personalized", "bucket")
    show_full_result_count = False


@admin.register(PurchaseDaysBuild)
class PurchaseDaysBuildAdmin(ComputedAdmin):
    """When and in which time zone the purchase summary was last rebuilt in full."""

    list_display = ("time_zone", "built_at")


@admin.register(CLVModelFit)
class CLVModelFitAdmin(admin.ModelAdmin):
    """Fits come from `manage.py clv fit`; the admin shows them and may delete old ones."""

    list_display = ("fitted_at", "until", "time_unit", "customers", "status", "failure")
    list_filter = ("status", "failure", "time_unit")
    date_hierarchy = "fitted_at"
    ordering = ("-fitted_at",)
    readonly_fields = (
        "fitted_at",
        "until",
        "time_unit",
        "customers",
        "status",
        "failure",
        "failure_reason",
        "params",
        "calibration",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CLVModelFit | None = None) -> bool:
        return False
