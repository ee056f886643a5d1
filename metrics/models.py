"""Daily snapshots of every metric, so that the dashboard draws trends without recomputing."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class MetricSnapshot(models.Model):
    """One metric on one day, overall or for one value of a dimension.

    `dimension` is empty for the overall figure, else what it is split by ("channel",
    "operator", "personalized", "segment", ...) with `dimension_value` the value.
    """

    day = models.DateField(_("day"))
    metric = models.CharField(_("metric"), max_length=64)
    dimension = models.CharField(_("dimension"), max_length=64, blank=True)
    dimension_value = models.CharField(_("dimension value"), max_length=128, blank=True)
    value = models.FloatField(_("value"), null=True, blank=True)
    n = models.PositiveIntegerField(_("sample size"), default=0)
    ci_low = models.FloatField(_("95% CI low"), null=True, blank=True)
    ci_high = models.FloatField(_("95% CI high"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        ordering = ["-day", "metric", "dimension", "dimension_value"]
        verbose_name = _("metric snapshot")
        verbose_name_plural = _("metric snapshots")
        permissions = [("view_dashboard", _("Can view the metrics dashboard"))]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "metric", "dimension", "dimension_value"],
                name="metric_snapshot_unique_per_day",
            ),
            models.CheckConstraint(
                condition=Q(dimension="") | ~Q(dimension_value=""),
                name="metric_snapshot_dimension_has_value",
                violation_error_message=_("A split by a dimension names its value."),
            ),
            models.CheckConstraint(
                condition=Q(ci_low__isnull=True)
                | Q(ci_high__isnull=True)
                | Q(ci_low__lte=F("ci_high")),
                name="metric_snapshot_ci_ordered",
                violation_error_message=_("The interval's low end cannot exceed its high end."),
            ),
        ]
        indexes = [models.Index(fields=["metric", "dimension", "day"], name="metric_series_idx")]

    def __str__(self) -> str:
        where = f" [{self.dimension}={self.dimension_value}]" if self.dimension else ""
        return f"{self.day} {self.metric}{where}: {self.value}"


class CLVModelFit(models.Model):
    """The parameters of the predictive CLV models, fitted to purchases up to `until`.

    `params` holds {"bgnbd": {"r", "alpha", "a", "b", "log_likelihood"}, "gamma_gamma":
    {"p", "q", "gamma", "log_likelihood"}}; the newest fit is the one the card uses.
    """

    class TimeUnit(models.TextChoices):
        WEEK = "week", _("Week")
        DAY = "day", _("Day")

    fitted_at = models.DateTimeField(_("fitted at"), auto_now_add=True)
    until = models.DateField(_("purchases up to"))
    time_unit = models.CharField(
        _("time unit"), max_length=4, choices=TimeUnit.choices, default=TimeUnit.WEEK
    )
    customers = models.PositiveIntegerField(_("customers"), default=0)
    params = models.JSONField(_("parameters"))
    calibration = models.JSONField(_("calibration check"), default=dict, blank=True)

    class Meta:
        ordering = ["-fitted_at", "-id"]
        get_latest_by = ["fitted_at", "id"]
        verbose_name = _("CLV model fit")
        verbose_name_plural = _("CLV model fits")

    def __str__(self) -> str:
        return f"CLV fit {self.fitted_at:%Y-%m-%d %H:%M} (≤ {self.until})"
