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


# Aggregates a FactRollup row holds at most: the largest family (survey responses) has 21.
ROLLUP_AGGREGATES = 24


def _aggregate() -> models.FloatField:
    return models.FloatField(_("aggregate"), null=True, blank=True)


class FactRollup(models.Model):
    """One family of fact metrics on one local day for one group of its dimensions
    (metrics/rollups.py): the dashboard adds these up instead of reading every fact.

    `a0`, `a1`, ... hold the family's aggregates as additive quantities, in the order of
    `metrics.rollups.stored_aggregates` (pinned by the day's schema fingerprint, so a rollup
    of another order or set of aggregates is never read): counts as they are, and for a mean
    (and mean of squares) the sum of the values beside the count they average, so that days
    and groups add up. Plain float columns, not a JSON document: summing 20 columns of
    90,000 rows takes a tenth of the time of extracting them from JSON (PostgreSQL).
    `operator_id` is a plain integer, not a foreign key: a rollup is a copy that is rebuilt,
    not a record to protect; when an operator is deleted their days are uncovered (the facts'
    SET_NULL fires no signal) and rolled again.
    """

    family = models.CharField(_("family"), max_length=64)
    day = models.DateField(_("day"))
    channel = models.CharField(_("channel"), max_length=20, null=True, blank=True)
    operator_id = models.BigIntegerField(_("operator ID"), null=True, blank=True)
    personalized = models.BooleanField(_("personalised"), null=True, blank=True)
    a0 = _aggregate()
    a1 = _aggregate()
    a2 = _aggregate()
    a3 = _aggregate()
    a4 = _aggregate()
    a5 = _aggregate()
    a6 = _aggregate()
    a7 = _aggregate()
    a8 = _aggregate()
    a9 = _aggregate()
    a10 = _aggregate()
    a11 = _aggregate()
    a12 = _aggregate()
    a13 = _aggregate()
    a14 = _aggregate()
    a15 = _aggregate()
    a16 = _aggregate()
    a17 = _aggregate()
    a18 = _aggregate()
    a19 = _aggregate()
    a20 = _aggregate()
    a21 = _aggregate()
    a22 = _aggregate()
    a23 = _aggregate()

    class Meta:
        verbose_name = _("fact rollup")
        verbose_name_plural = _("fact rollups")
        indexes = [models.Index(fields=["family", "day"], name="fact_rollup_family_day_idx")]

    def __str__(self) -> str:
        return f"{self.family} {self.day} {self.channel}/{self.operator_id}/{self.personalized}"


class FactRollupDay(models.Model):
    """Whether one family's rollup of one day can be trusted (metrics/rollups.py).

    Writers of facts bump `version`; the rollup job stores the version it read before
    reading the facts as `rolled_version`, with the `schema` of the aggregates it wrote. The
    day is covered only while `rolled_version == version` and the schema is the current one.
    """

    family = models.CharField(_("family"), max_length=64)
    day = models.DateField(_("day"))
    version = models.BigIntegerField(_("version"), default=0)
    rolled_version = models.BigIntegerField(_("rolled-up version"), null=True, blank=True)
    schema = models.CharField(_("schema"), max_length=64, blank=True)
    rolled_at = models.DateTimeField(_("rolled up at"), null=True, blank=True)

    class Meta:
        ordering = ["family", "-day"]
        verbose_name = _("fact rollup day")
        verbose_name_plural = _("fact rollup days")
        constraints = [
            models.UniqueConstraint(
                fields=["family", "day"], name="fact_rollup_day_unique_per_family"
            )
        ]

    def __str__(self) -> str:
        covered = "covered" if self.rolled_version == self.version else "stale"
        return f"{self.family} {self.day} ({covered})"


class CLVModelFit(models.Model):
    """The parameters of the predictive CLV models, fitted to purchases up to `until`.

    `params` holds {"bgnbd": {"r", "alpha", "a", "b", "log_likelihood"}, "gamma_gamma":
    {"p", "q", "gamma", "log_likelihood"}}; the newest fit is the one the card uses, and
    it predicts only when `status` is accepted (metrics.clv.fit_and_store checks it).
    """

    class TimeUnit(models.TextChoices):
        WEEK = "week", _("Week")
        DAY = "day", _("Day")

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        FAILED = "failed", _("Failed")

    class Failure(models.TextChoices):
        """Why a fit was not accepted; the first problem found (all are in failure_reason)."""

        NONE = "", _("None")
        NOT_CONVERGED = "not_converged", _("The fit did not converge")
        BOUNDARY = "boundary", _("The fit ran to the boundary of the parameter space")
        NO_MEAN_SPEND = "no_mean_spend", _("The spend model has no finite mean (q ≤ 1)")
        UNSOUND_PREDICTIONS = "unsound_predictions", _("The fit predicts impossible values")

    fitted_at = models.DateTimeField(_("fitted at"), auto_now_add=True)
    until = models.DateField(_("purchases up to"))
    time_unit = models.CharField(
        _("time unit"), max_length=4, choices=TimeUnit.choices, default=TimeUnit.WEEK
    )
    customers = models.PositiveIntegerField(_("customers"), default=0)
    params = models.JSONField(_("parameters"))
    calibration = models.JSONField(_("calibration check"), default=dict, blank=True)
    # A failed fit is kept (its parameters show what went wrong) but never predicts anything.
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.ACCEPTED
    )
    failure = models.CharField(
        _("failure"), max_length=24, choices=Failure.choices, default=Failure.NONE, blank=True
    )
    failure_reason = models.TextField(_("failure reason"), blank=True)

    class Meta:
        ordering = ["-fitted_at", "-id"]
        get_latest_by = ["fitted_at", "id"]
        constraints = [
            # A failed fit names its failure; an accepted one has none.
            models.CheckConstraint(
                condition=(Q(status="accepted") & Q(failure=""))
                | (Q(status="failed") & ~Q(failure="")),
                name="clv_fit_failure_matches_status",
            ),
        ]
        verbose_name = _("CLV model fit")
        verbose_name_plural = _("CLV model fits")

    def __str__(self) -> str:
        return f"CLV fit {self.fitted_at:%Y-%m-%d %H:%M} (≤ {self.until})"


class PurchaseDay(models.Model):
    """A customer's completed purchases of one local day, linked to their days before and
    after: the purchase history summarised so that the customer-base metrics count rows in
    a range instead of grouping the whole history by customer (metrics.purchase_days).

    Derived data: rebuilt for a customer whenever one of their purchases (or the cost of a
    product they bought) changes; `python manage.py run_job purchase_days` rebuilds it all
    when it is not current.
    """

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    day = models.DateField(_("day"))
    previous_day = models.DateField(_("previous purchase day"), null=True, blank=True)
    # The purchase day before the previous one: with `previous_day`, what the daily rollup
    # counts (metrics.customer_rollup). Neither changes when a later purchase day is added.
    second_previous_day = models.DateField(_("second previous purchase day"), null=True, blank=True)
    next_day = models.DateField(_("next purchase day"), null=True, blank=True)
    lines = models.PositiveIntegerField(_("purchase lines"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=16, decimal_places=2, default=0)
    costed_revenue = models.DecimalField(
        _("revenue of lines with a known cost"), max_digits=16, decimal_places=2, default=0
    )
    known_cost = models.DecimalField(
        _("known cost"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    subscription_ends_on = models.DateField(_("latest subscription end"), null=True, blank=True)
    # The latest subscription end of the customer's days up to this one: on their last day
    # before an instant, whether a subscription of theirs ended unrenewed by then.
    subscription_max_to_date = models.DateField(
        _("latest subscription end to date"), null=True, blank=True
    )
    revenue_to_date = models.DecimalField(
        _("revenue up to this day"), max_digits=18, decimal_places=2, default=0
    )
    margin_to_date = models.DecimalField(
        _("margin up to this day"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    # The customer's first day with a line whose product has a cost (from which their margin
    # to date is known).
    first_costed = models.BooleanField(_("first day with a known cost"), default=False)

    class Meta:
        verbose_name = _("purchase day")
        verbose_name_plural = _("purchase days")
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="purchase_day_unique"),
        ]
        indexes = [
            # The period scans: rows of a range of days with what the counts need.
            models.Index(
                fields=["day"],
                include=["previous_day", "next_day", "revenue", "costed_revenue", "known_cost"],
                name="purchase_day_day_idx",
            ),
            # Each customer's last day before an instant: next_day on or after it, or none.
            models.Index(
                fields=["next_day"],
                include=["day", "revenue_to_date", "margin_to_date"],
                name="purchase_day_next_idx",
            ),
            # The subscribers' days (a subscription bought on them or before): who lapsed.
            models.Index(
                fields=["day"],
                include=[
                    "customer",
                    "previous_day",
                    "second_previous_day",
                    "next_day",
                    "subscription_max_to_date",
                ],
                condition=Q(subscription_max_to_date__isnull=False),
                name="purchase_day_lapse_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day}"


class PurchaseDaysBuild(models.Model):
    """When `PurchaseDay` was last rebuilt whole, and in which time zone its days are: the
    metrics read it only when that zone is the site's (a changed TIME_ZONE moves days)."""

    time_zone = models.CharField(_("time zone"), max_length=64)
    built_at = models.DateTimeField(_("built at"), auto_now=True)

    class Meta:
        verbose_name = _("purchase days build")
        verbose_name_plural = _("purchase days builds")

    def __str__(self) -> str:
        return f"{self.time_zone} {self.built_at:%Y-%m-%d %H:%M}"


class PurchaseDayRollup(models.Model):
    """The per-customer-day summary (`PurchaseDay`) of one local day, rolled up so that the
    customer-base metrics read a few rows a day instead of one per customer and day
    (metrics/customer_rollup.py explains the counts).

    Three kinds of row, by `lag`:
    - 0: the day's totals: customer-days, customers buying for the first time, revenue,
      revenue and cost of lines with a known cost, margin, the day's part of the sum of
      squared revenues to date, customers whose margin becomes known;
    - 1: customer-days of the day whose previous purchase day is `lag_day`;
    - 2: customer-days of the day whose purchase day before the previous one is `lag_day`.
    `lag_day` is empty for none and for a day further back than any figure compares
    (twice the inactivity window), so a day has at most that many rows of each kind.
    Derived data, rebuilt by the nightly `rollups` job; a day is read only while its marker
    (`FactRollupDay`, family "customer_days") says it is current.
    """

    class Lag(models.IntegerChoices):
        TOTALS = 0, _("the day's totals")
        PREVIOUS = 1, _("previous purchase day")
        SECOND_PREVIOUS = 2, _("second previous purchase day")

    day = models.DateField(_("day"))
    lag = models.PositiveSmallIntegerField(_("kind"), choices=Lag.choices)
    lag_day = models.DateField(_("earlier purchase day"), null=True, blank=True)
    customers = models.PositiveIntegerField(_("customer-days"), default=0)
    new = models.PositiveIntegerField(_("first purchases"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=18, decimal_places=2, default=0)
    costed_revenue = models.DecimalField(
        _("revenue of lines with a known cost"), max_digits=18, decimal_places=2, default=0
    )
    known_cost = models.DecimalField(
        _("known cost"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    margin = models.DecimalField(
        _("margin"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    # Sum over the day's customers of (revenue to date)^2 - (revenue to the day before)^2:
    # summed over the days before an instant, the sum of squares of revenue to date.
    revenue_square_increase = models.FloatField(_("increase of squared revenue"), default=0)
    first_costed = models.PositiveIntegerField(_("margins becoming known"), default=0)

    class Meta:
        verbose_name = _("purchase day rollup")
        verbose_name_plural = _("purchase day rollups")
        constraints = [
            models.CheckConstraint(
                condition=Q(lag__in=[0, 1, 2]), name="purchase_day_rollup_lag_valid"
            ),
        ]
        indexes = [models.Index(fields=["day", "lag"], name="purchase_day_rollup_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.lag} {self.lag_day or '-'}: {self.customers}"


class ResolutionTimeRollup(models.Model):
    """How many tickets resolved on one local day took how long, by personalised flag: the
    median resolution time counts these to find which bucket of times holds its middle
    ticket, and reads only that bucket's tickets (metrics/resolution_histogram.py).

    `bucket` is the number of `metrics.resolution_histogram.EDGES` at or below the ticket's
    resolution time in seconds (0: below the first edge). Derived data, written by the
    nightly `rollups` job with the "tickets_resolved" family's rollup of the same day, and
    read only while that day's marker says it is current.
    """

    day = models.DateField(_("day"))
    personalized = models.BooleanField(_("personalised"))
    bucket = models.PositiveSmallIntegerField(_("resolution time bucket"))
    tickets = models.PositiveIntegerField(_("tickets"))

    class Meta:
        verbose_name = _("resolution time rollup")
        verbose_name_plural = _("resolution time rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "personalized", "bucket"], name="resolution_rollup_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.personalized} {self.bucket}: {self.tickets}"
