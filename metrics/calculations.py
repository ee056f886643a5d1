"""Every metric of PRODUCT.md's "Metrics: definitions", computed by the database.

Each metric is a `MetricDefinition` in `METRICS`, keyed by its fixed snake_case name. A fact
metric is a filtered queryset, a dict of aggregates and a function that turns the aggregated
row into an `Estimate`; the same three pieces give the overall figure (one `aggregate()`
query) and a split by a dimension (one `values().annotate()` query): channel, operator or
personalised, for the cohort table, the per-operator table and the snapshots.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.aggregates import AggregateFilter  # type: ignore[attr-defined]
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.dates import site_day
from customers.models import Channel, Interaction, Interest, Offer, Purchase
from metrics import stats
from metrics.expressions import PercentileCont, SecondsBetween, median_by
from metrics.filters import MetricFilters, Period
from metrics.stats import Estimate
from surveys.models import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, Survey, SurveyResponse
from tickets.models import Ticket

# Means of scores are reported on the kind's default scale, so that a 1-10 CSAT survey and a
# 1-5 one can be averaged together (linear rescaling; identity for surveys on the default).
CSAT_MEAN_SCALE = (1, 5)
CES_MEAN_SCALE = (1, 7)  # oriented so that 7 is the easy end
# Times and money to date: no value below zero.
NON_NEGATIVE: stats.Bounds = (0.0, None)
# Inbound contacts whose abandonment is measured: live channels where a customer waits.
LIVE_CHANNELS = (Channel.PHONE, Channel.CHAT)
SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0

SHARE, MEAN, NPS, MEDIAN = "share", "mean", "nps", "median"
DIMENSIONS = ("channel", "operator", "personalized")


def churn_inactivity_days() -> int:
    """Days without a purchase after which a customer counts as lost (settings)."""
    return int(getattr(settings, "METRICS_CHURN_INACTIVITY_DAYS", 365))


# --- Filters --------------------------------------------------------------------------------

# filter name -> lookup(s) on the metric's facts; several lookups are OR-ed; absent: n/a.
Paths = Mapping[str, str | tuple[str, ...]]


def apply_filters(
    queryset: QuerySet[Any], filters: MetricFilters, *, time: str | None, paths: Paths
) -> QuerySet[Any]:
    """The facts of the period (on `time`) and of every slice that applies to them."""
    if time:
        period = filters.period
        queryset = queryset.filter(
            **{f"{time}__gte": period.start_at, f"{time}__lt": period.end_before}
        )
    wanted: dict[str, Any] = {
        "channel": filters.channel or None,
        "operator": filters.operator_id,
        "category": filters.category_id,
        "segment": filters.segment or None,
        "personalized": filters.personalized,
    }
    for name, value in wanted.items():
        if value is None or name not in paths:
            continue
        lookups = paths[name]
        if isinstance(lookups, str):
            lookups = (lookups,)
        condition = Q()
        for lookup in lookups:
            condition |= Q(**{lookup: value})
        queryset = queryset.filter(condition)
    return queryset


# --- The definition of a metric -----------------------------------------------------------


@dataclass(frozen=True)
class MetricDefinition:
    """One metric: its name, how to read it, and how to compute it overall or split."""

    name: str
    label: str | Promise
    unit: str
    kind: str
    higher_is_better: bool
    # Overall figure for the filters.
    compute: Callable[[MetricFilters], Estimate]
    # dimension -> {dimension value: Estimate}; only for `dimensions`.
    split: Callable[[MetricFilters, str], dict[Any, Estimate]] | None = None
    dimensions: tuple[str, ...] = ()
    # Figures per week or month in one query (fact metrics); None: computed bucket by bucket.
    buckets: Callable[[MetricFilters, str], dict[dt.date, Estimate]] | None = None
    # Whether daily figures combine exactly into a longer period (counts and means do; a
    # customer-base rate over a day does not add up to the rate over a month).
    additive: bool = False
    description: str | Promise = ""
    fact: FactMetric | None = None

    @property
    def bounds(self) -> stats.Bounds:
        """The values the metric can take (its fact's; shares hold to 0-100 by themselves)."""
        return self.fact.bounds if self.fact else stats.UNBOUNDED


@dataclass(frozen=True)
class FactMetric:
    """A metric that is an aggregate over facts: source rows, aggregates, a finisher."""

    source: Callable[[MetricFilters], QuerySet[Any]]
    aggregates: Callable[[], dict[str, Any]]
    finish: Callable[[Mapping[str, Any]], Estimate]
    dimension_paths: Mapping[str, str]
    # The field the period applies to; time series group on it.
    time_field: str = ""
    # Metrics of one family read the same rows (`base`), each those matching its `where`:
    # compute_all() answers a whole family with one query of filtered aggregates.
    family: str = ""
    base: Callable[[MetricFilters], QuerySet[Any]] | None = None
    where: Q | None = None
    # The lookups `source` filters each slice on (apply_filters): the daily rollups apply a
    # slice themselves only where it is a dimension they keep (metrics.rollups).
    filter_paths: Paths = field(default_factory=dict)
    # The values the metric can take (a time >= 0, a score within its scale): intervals stop
    # at these edges (stats.within).
    bounds: stats.Bounds = stats.UNBOUNDED

    def finished(self, row: Mapping[str, Any]) -> Estimate:
        """The aggregated row as a figure, its interval within the metric's bounds."""
        return stats.within(self.finish(row), self.bounds)

    def compute(self, filters: MetricFilters) -> Estimate:
        return self.finished(self.source(filters).aggregate(**self.aggregates()))

    def split(self, filters: MetricFilters, dimension: str) -> dict[Any, Estimate]:
        path = self.dimension_paths[dimension]
        rows = self.source(filters).values(path).annotate(**self.aggregates()).order_by(path)
        return {row[path]: self.finished(row) for row in rows}

    def buckets(self, filters: MetricFilters, interval: str) -> dict[dt.date, Estimate]:
        """The figure per week (starting Monday) or month of the period: one query."""
        trunc = {"week": TruncWeek, "month": TruncMonth}[interval]
        rows = (
            self.source(filters)
            .annotate(_bucket=trunc(self.time_field, tzinfo=timezone.get_default_timezone()))
            .values("_bucket")
            .annotate(**self.aggregates())
            .order_by("_bucket")
        )
        return {_as_day(row["_bucket"]): self.finished(row) for row in rows}


def _as_day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return site_day(value)
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _fact(
    name: str,
    label: str | Promise,
    unit: str,
    kind: str,
    fact: FactMetric,
    *,
    higher_is_better: bool = True,
    description: str | Promise = "",
) -> MetricDefinition:
    return MetricDefinition(
        name=name,
        label=label,
        unit=unit,
        kind=kind,
        higher_is_better=higher_is_better,
        compute=fact.compute,
        split=fact.split,
        buckets=fact.buckets,
        dimensions=tuple(d for d in DIMENSIONS if d in fact.dimension_paths),
        additive=kind != MEDIAN,
        description=description,
        fact=fact,
    )


def _share_of(row: Mapping[str, Any]) -> Estimate:
    return stats.share(row["k"] or 0, row["n"] or 0)


def _moments(value: Any) -> dict[str, Any]:
    """n, mean and mean of squares: the sample sd follows, the same on every database
    (SQLite's STDDEV_SAMP fails on a single row)."""
    return {"n": Count("pk"), "mean": Avg(value), "mean_sq": Avg(value * value)}


def _sample_sd(n: int, mean: float, mean_sq: float | None) -> float | None:
    if n < 2 or mean_sq is None:
        return None
    variance = (mean_sq - mean * mean) * n / (n - 1)
    return math.sqrt(max(variance, 0.0))


def _mean_of(scale: float = 1.0) -> Callable[[Mapping[str, Any]], Estimate]:
    def finish(row: Mapping[str, Any]) -> Estimate:
        n = row["n"] or 0
        if not n or row["mean"] is None:
            return stats.NO_DATA
        sd = _sample_sd(n, row["mean"], row.get("mean_sq"))
        return stats.mean(row["mean"] / scale, sd / scale if sd is not None else None, n)

    return finish


def _as_float(expression: Any) -> Any:
    return Cast(expression, FloatField())


# --- Surveys: CSAT, NPS, CES, sentiment -----------------------------------------------------

SURVEY_PATHS: Paths = {
    "channel": "invitation__channel",
    "operator": "invitation__operator_id",
    "category": (
        "invitation__purchase__product__category_id",
        "invitation__ticket__purchase__product__category_id",
    ),
    "segment": "invitation__customer__segment",
    "personalized": "invitation__personalized",
}
SURVEY_DIMENSIONS = {
    "channel": "invitation__channel",
    "operator": "invitation__operator_id",
    "personalized": "invitation__personalized",
}


def _responses(kind: str | None) -> Callable[[MetricFilters], QuerySet[Any]]:
    def source(filters: MetricFilters) -> QuerySet[Any]:
        queryset = SurveyResponse.objects.all()
        if kind is not None:
            queryset = queryset.filter(invitation__survey__kind=kind)
        return apply_filters(queryset, filters, time="answered_at", paths=SURVEY_PATHS)

    return source


def _rescaled_score(low: int, high: int, *, easy_high: bool = False) -> Any:
    """The score moved linearly onto [low, high]; for CES, turned so that high is easy."""
    scale_min = F("invitation__survey__scale_min")
    scale_max = F("invitation__survey__scale_max")
    position: Any = _as_float(F("score")) - scale_min
    if easy_high:
        position = Case(
            When(
                invitation__survey__easy_end=Survey.EasyEnd.LOW,
                then=_as_float(scale_max) - F("score"),
            ),
            default=_as_float(F("score")) - scale_min,
            output_field=FloatField(),
        )
    return Value(float(low)) + position * Value(float(high - low)) / _as_float(
        scale_max - scale_min
    )


SATISFIED = Q(score__gte=F("invitation__survey__satisfied_threshold"))
EASY = Q(
    invitation__survey__easy_end=Survey.EasyEnd.HIGH,
    score__gte=F("invitation__survey__satisfied_threshold"),
) | Q(
    invitation__survey__easy_end=Survey.EasyEnd.LOW,
    score__lte=F("invitation__survey__satisfied_threshold"),
)


def _survey_family(kind: str | None, where: Q) -> dict[str, Any]:
    return {
        "source": _responses(kind),
        "family": "responses",
        "base": _responses(None),
        "where": where,
        "filter_paths": SURVEY_PATHS,
    }


CSAT = FactMetric(
    **_survey_family(Survey.Kind.CSAT, Q(invitation__survey__kind=Survey.Kind.CSAT)),
    time_field="answered_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=SATISFIED)},
    finish=_share_of,
    dimension_paths=SURVEY_DIMENSIONS,
)
CSAT_MEAN = FactMetric(
    **_survey_family(Survey.Kind.CSAT, Q(invitation__survey__kind=Survey.Kind.CSAT)),
    time_field="answered_at",
    aggregates=lambda: _moments(_rescaled_score(*CSAT_MEAN_SCALE)),
    finish=_mean_of(),
    bounds=CSAT_MEAN_SCALE,
    dimension_paths=SURVEY_DIMENSIONS,
)


def _finish_nps(row: Mapping[str, Any]) -> Estimate:
    n = row["n"] or 0
    promoters, detractors = row["promoters"] or 0, row["detractors"] or 0
    return stats.nps(promoters, n - promoters - detractors, detractors)


NPS_FACT = FactMetric(
    **_survey_family(Survey.Kind.NPS, Q(invitation__survey__kind=Survey.Kind.NPS)),
    time_field="answered_at",
    aggregates=lambda: {
        "n": Count("pk"),
        "promoters": Count("pk", filter=Q(score__gte=NPS_PROMOTER_MIN)),
        "detractors": Count("pk", filter=Q(score__lte=NPS_DETRACTOR_MAX)),
    },
    finish=_finish_nps,
    dimension_paths=SURVEY_DIMENSIONS,
)
CES_MEAN = FactMetric(
    **_survey_family(Survey.Kind.CES, Q(invitation__survey__kind=Survey.Kind.CES)),
    time_field="answered_at",
    aggregates=lambda: _moments(_rescaled_score(*CES_MEAN_SCALE, easy_high=True)),
    finish=_mean_of(),
    bounds=CES_MEAN_SCALE,
    dimension_paths=SURVEY_DIMENSIONS,
)
CES_EASY = FactMetric(
    **_survey_family(Survey.Kind.CES, Q(invitation__survey__kind=Survey.Kind.CES)),
    time_field="answered_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=EASY)},
    finish=_share_of,
    dimension_paths=SURVEY_DIMENSIONS,
)


def _sentiment(sentiment: str) -> FactMetric:
    def source(filters: MetricFilters) -> QuerySet[Any]:
        return _responses(None)(filters).exclude(sentiment="")

    return FactMetric(
        source=source,
        family="responses",
        base=_responses(None),
        where=~Q(sentiment=""),
        filter_paths=SURVEY_PATHS,
        time_field="answered_at",
        aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=Q(sentiment=sentiment))},
        finish=_share_of,
        dimension_paths=SURVEY_DIMENSIONS,
    )


# --- Tickets --------------------------------------------------------------------------------

TICKET_PATHS: Paths = {
    "channel": "channel",
    "operator": "assignee_id",
    "category": "purchase__product__category_id",
    "segment": "customer__segment",
    "personalized": "personalized",
}
TICKET_DIMENSIONS = {
    "channel": "channel",
    "operator": "assignee_id",
    "personalized": "personalized",
}


def _tickets(time: str, **conditions: Any) -> Callable[[MetricFilters], QuerySet[Any]]:
    def source(filters: MetricFilters) -> QuerySet[Any]:
        queryset = Ticket.objects.filter(**conditions)
        return apply_filters(queryset, filters, time=time, paths=TICKET_PATHS)

    return source


def _duration_aggregates(start: str, end: str) -> Callable[[], dict[str, Any]]:
    def aggregates() -> dict[str, Any]:
        return _moments(SecondsBetween(F(start), F(end)))

    return aggregates


FIRST_RESPONSE = FactMetric(
    source=_tickets("created_at", first_response_at__isnull=False),
    family="tickets_created",
    base=_tickets("created_at"),
    where=Q(first_response_at__isnull=False),
    time_field="created_at",
    aggregates=_duration_aggregates("created_at", "first_response_at"),
    finish=_mean_of(SECONDS_PER_MINUTE),
    bounds=NON_NEGATIVE,
    dimension_paths=TICKET_DIMENSIONS,
    filter_paths=TICKET_PATHS,
)
RESOLUTION_TIME = FactMetric(
    source=_tickets("resolved_at", resolved_at__isnull=False),
    family="tickets_resolved",
    base=_tickets("resolved_at", resolved_at__isnull=False),
    time_field="resolved_at",
    aggregates=_duration_aggregates("created_at", "resolved_at"),
    finish=_mean_of(SECONDS_PER_HOUR),
    bounds=NON_NEGATIVE,
    dimension_paths=TICKET_DIMENSIONS,
    filter_paths=TICKET_PATHS,
)
FIRST_CONTACT_RESOLUTION = FactMetric(
    source=_tickets("resolved_at", resolved_at__isnull=False),
    family="tickets_resolved",
    base=_tickets("resolved_at", resolved_at__isnull=False),
    time_field="resolved_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=Q(customer_contacts=1))},
    finish=_share_of,
    dimension_paths=TICKET_DIMENSIONS,
    filter_paths=TICKET_PATHS,
)
RESOLUTION_RATE = FactMetric(
    source=_tickets("created_at"),
    family="tickets_created",
    base=_tickets("created_at"),
    time_field="created_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=Q(resolved_at__isnull=False))},
    finish=_share_of,
    dimension_paths=TICKET_DIMENSIONS,
    filter_paths=TICKET_PATHS,
)


def median_resolution_time(filters: MetricFilters) -> Estimate:
    """The median hours from creation to resolution of tickets resolved in the period."""
    return _median_split(filters, None).get(None, stats.NO_DATA)


MEDIAN_METRIC = "median_resolution_time"


def median_periods(
    filters: MetricFilters, periods: list[Period], *, cohorts: bool = True
) -> tuple[list[Estimate], dict[Any, Estimate]]:
    """The median resolution time of each period, and of the first split by the personalised
    flag (ignoring the filters' flag, as the cohort view does).

    PostgreSQL: one scan of the tickets resolved in the span, with a percentile per period
    and per cohort (`percentile_cont ... FILTER (WHERE ...)`): the dashboard's three medians
    cost one pass. Elsewhere: one query each.
    """
    if connection.vendor != "postgresql":
        return (
            [median_resolution_time(filters.with_period(period)) for period in periods],
            _median_split(filters.with_personalized(None), "personalized") if cohorts else {},
        )
    span = Period(min(p.start for p in periods), max(p.end for p in periods))
    tickets = _tickets("resolved_at", resolved_at__isnull=False)(
        filters.with_period(span).with_personalized(None)
    )
    seconds = SecondsBetween(F("created_at"), F("resolved_at"))
    flag = Q() if filters.personalized is None else Q(personalized=filters.personalized)
    first = _in("resolved_at", periods[0].start_at, periods[0].end_before)
    wanted: dict[str, Q] = {
        f"p{j}": _in("resolved_at", period.start_at, period.end_before) & flag
        for j, period in enumerate(periods)
    } | {"yes": first & Q(personalized=True), "no": first & Q(personalized=False)}
    aggregates: dict[str, Any] = {}
    for key, condition in wanted.items():
        aggregates[f"{key}_median"] = PercentileCont(seconds, filter=condition)
        aggregates[f"{key}_n"] = Count("pk", filter=condition)
    row = tickets.aggregate(**aggregates)

    def estimate(key: str) -> Estimate:
        if not row[f"{key}_n"] or row[f"{key}_median"] is None:
            return stats.NO_DATA
        return Estimate(value=row[f"{key}_median"] / SECONDS_PER_HOUR, n=row[f"{key}_n"])

    split = {flag_value: estimate(key) for flag_value, key in ((True, "yes"), (False, "no"))}
    return (
        [estimate(f"p{j}") for j in range(len(periods))],
        {key: value for key, value in split.items() if value.has_data},
    )


def _median_split(filters: MetricFilters, dimension: str | None) -> dict[Any, Estimate]:
    queryset = _tickets("resolved_at", resolved_at__isnull=False)(filters)
    group = TICKET_DIMENSIONS[dimension] if dimension else None
    medians = median_by(queryset, SecondsBetween(F("created_at"), F("resolved_at")), group=group)
    return {
        key: Estimate(value=seconds / SECONDS_PER_HOUR, n=n)
        for key, (seconds, n) in medians.items()
        if seconds is not None
    }


# --- Interactions: abandonment, waiting ----------------------------------------------------

INTERACTION_PATHS: Paths = {
    "channel": "channel",
    "operator": "operator_id",
    "segment": "customer__segment",
    "personalized": "personalized",
}
INTERACTION_DIMENSIONS = {
    "channel": "channel",
    "operator": "operator_id",
    "personalized": "personalized",
}
# Answered or given up on: an inbound contact still ringing has no outcome yet.
HAS_OUTCOME = Q(answered_at__isnull=False) | Q(ended_at__isnull=False)
# Interaction.is_abandoned in SQL: inbound, ended, never answered.
ABANDONED = Q(answered_at__isnull=True, ended_at__isnull=False)
# Measured by the channel's own system (the PBX's call ID, the chat's session ID): only these
# know when the contact rang and was answered. A contact an operator logged by hand has no
# such times (it would count as answered at once, at zero seconds), so it is left out.
MEASURED = ~Q(external_id="")


def _inbound(*, live_only: bool) -> Callable[[MetricFilters], QuerySet[Any]]:
    def source(filters: MetricFilters) -> QuerySet[Any]:
        queryset = Interaction.objects.filter(
            HAS_OUTCOME,
            MEASURED,
            kind=Interaction.Kind.CONTACT,
            direction=Interaction.Direction.INBOUND,
        )
        if live_only:
            queryset = queryset.filter(channel__in=LIVE_CHANNELS)
        return apply_filters(queryset, filters, time="started_at", paths=INTERACTION_PATHS)

    return source


ABANDONMENT = FactMetric(
    source=_inbound(live_only=True),
    family="inbound",
    base=_inbound(live_only=False),
    # MEASURED again (the base has it): the rollups' fingerprint changes with it, so rollups
    # stored before hand-logged contacts were left out are not read.
    where=Q(channel__in=LIVE_CHANNELS) & MEASURED,
    time_field="started_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=ABANDONED)},
    finish=_share_of,
    dimension_paths=INTERACTION_DIMENSIONS,
    filter_paths=INTERACTION_PATHS,
)


def _waiting_aggregates() -> dict[str, Any]:
    return _moments(SecondsBetween(F("started_at"), Coalesce("answered_at", "ended_at")))


WAITING_TIME = FactMetric(
    source=_inbound(live_only=False),
    family="inbound",
    base=_inbound(live_only=False),
    where=MEASURED,  # for the rollups' fingerprint, as ABANDONMENT's
    time_field="started_at",
    aggregates=_waiting_aggregates,
    finish=_mean_of(),
    bounds=NON_NEGATIVE,
    dimension_paths=INTERACTION_DIMENSIONS,
    filter_paths=INTERACTION_PATHS,
)


# --- Conversion: interests and offers -------------------------------------------------------

OFFER_PATHS: Paths = {
    "channel": "interaction__channel",
    "operator": "operator_id",
    "category": "product__category_id",
    "segment": "customer__segment",
    "personalized": "interaction__personalized",
}
OFFER_DIMENSIONS = {
    "channel": "interaction__channel",
    "operator": "operator_id",
    "personalized": "interaction__personalized",
}
INTEREST_PATHS: Paths = {
    "channel": "channel",
    "category": "product__category_id",
    "segment": "customer__segment",
}

OFFER_CONVERSION = FactMetric(
    source=lambda f: apply_filters(Offer.objects.all(), f, time="offered_at", paths=OFFER_PATHS),
    time_field="offered_at",
    aggregates=lambda: {
        "n": Count("pk"),
        "k": Count("pk", filter=Q(status=Offer.Status.ACCEPTED)),
    },
    finish=_share_of,
    dimension_paths=OFFER_DIMENSIONS,
    filter_paths=OFFER_PATHS,
)
INTEREST_CONVERSION = FactMetric(
    source=lambda f: apply_filters(
        Interest.objects.all(), f, time="occurred_at", paths=INTEREST_PATHS
    ),
    time_field="occurred_at",
    aggregates=lambda: {
        "n": Count("pk"),
        "k": Count("pk", filter=Q(status=Interest.Status.CONVERTED)),
    },
    finish=_share_of,
    dimension_paths={"channel": "channel"},
    filter_paths=INTEREST_PATHS,
)


# --- Customers: repeat purchases, churn, retention, historical CLV ------------------------

PURCHASE_PATHS: Paths = {"category": "product__category_id", "segment": "customer__segment"}


def _completed_purchases(filters: MetricFilters) -> QuerySet[Any]:
    queryset = Purchase.objects.filter(status=Purchase.Status.COMPLETED)
    return apply_filters(queryset, filters, time=None, paths=PURCHASE_PATHS)


def _in(field: str, start: dt.datetime | None, end: dt.datetime) -> Q:
    """`start <= field < end` (no lower bound when start is None)."""
    condition = Q(**{f"{field}__lt": end})
    return condition & Q(**{f"{field}__gte": start}) if start is not None else condition


# Subscribers answered by the grouped query up to this many are named by id (customer_figures).
LAPSING_ID_LIST_LIMIT = 20_000
CUSTOMER_COUNTS = ("at_start", "lost", "at_end", "new", "customers", "repeaters", "orders")
CUSTOMER_SUMS = (
    "revenue",
    "revenue_with_cost",
    "cost",
    "clv_n",
    "clv_sum",
    "clv_sum_sq",
    "margin_n",
    "margin_sum",
)


def customer_figures(filters: MetricFilters, periods: list[Period]) -> list[dict[str, Any]]:
    """Everything the customer-base metrics need, for each of `periods`.

    Read from the per-customer-day summary (`metrics.purchase_days`: counts of rows in ranges
    of days, no grouping) where it applies, with the customers whose subscriptions can lapse
    in the window answered by the grouped query (`customer_totals`); else by the grouped query
    alone. Both give additive totals, added here and turned into the figures.

    Per period: {"activity": (see purchase_activity), "base": (see customer_base),
    "clv": {n, mean, mean_sq, margin}}.
    """
    from metrics import purchase_days  # it reads this module's periods and filters

    window_days = churn_inactivity_days()
    if purchase_days.applies(filters, periods, window_days):
        lapsing: Any = purchase_days.subscribers(filters, periods, window_days)
        # A few thousand subscribers are read as a list of ids, which the planner meets
        # with index lookups; as a subquery it hashed them and scanned every row (0.6 s
        # for 9,000 subscribers among 4.5 million customer-days). More stay a subquery.
        # Rows, not DISTINCT: a DISTINCT with a LIMIT walked the customer index in order.
        limit = min(LAPSING_ID_LIST_LIMIT, connection.features.max_query_params or math.inf)
        rows = list(lapsing.order_by().values_list("customer_id", flat=True)[: int(limit) + 1])
        if len(rows) <= limit:
            lapsing = sorted(set(rows))
        if lapsing:
            parts = [
                purchase_days.totals(filters, periods, window_days, exclude=lapsing),
                customer_totals(filters, periods, customers=lapsing),
            ]
        else:  # no subquery to test each row against
            parts = [purchase_days.totals(filters, periods, window_days)]
    else:
        parts = [customer_totals(filters, periods)]
    results = []
    for i in range(len(periods)):
        total = {
            key: sum((part[i][key] or 0 for part in parts), start=0)
            for key in CUSTOMER_COUNTS + CUSTOMER_SUMS
        }
        n, margin_n = total["clv_n"], total["margin_n"]
        results.append(
            {
                "activity": {
                    key: total[key]
                    for key in (
                        "customers",
                        "repeaters",
                        "orders",
                        "revenue",
                        "revenue_with_cost",
                        "cost",
                    )
                },
                "base": {key: int(total[key]) for key in ("at_start", "lost", "at_end", "new")},
                "clv": {
                    "n": n,
                    "mean": total["clv_sum"] / n if n else None,
                    "mean_sq": total["clv_sum_sq"] / n if n else None,
                    "margin": total["margin_sum"] / margin_n if margin_n else None,
                },
            }
        )
    return results


def customer_totals(
    filters: MetricFilters,
    periods: list[Period],
    *,
    customers: QuerySet[Any] | list[int] | None = None,
) -> list[dict[str, Any]]:
    """The customer-base totals of each period from the purchases themselves, in one query
    (of `customers` only when given).

    One pass over the completed purchases before the latest period's end, grouped by
    customer, with per-period conditional aggregates (first purchase ever, purchases in the
    inactivity window before the start and before the end, the last purchase, the latest
    subscription end, the customer-days, revenue and known cost of the period, and the revenue
    and margin up to the period's end); then one aggregate per period over those customers:
    counts and sums, which add up across groups of customers.
    """
    window = dt.timedelta(days=churn_inactivity_days())
    costed = Q(product__cost__isnull=False)
    margin_line = Case(
        When(costed, then=F("amount") - F("product__cost") * F("quantity")),
        default=None,
    )
    day = TruncDate("purchased_at", tzinfo=timezone.get_default_timezone())
    inner: dict[str, Any] = {"first": Min("purchased_at")}
    outer: dict[str, Any] = {}
    for i, period in enumerate(periods):
        start_at, end_before = period.start_at, period.end_before
        in_window, in_period = (
            _in("purchased_at", start_at - window, end_before),
            _in("purchased_at", start_at, end_before),
        )
        until_end = _in("purchased_at", None, end_before)
        inner |= {
            f"window{i}": Count("purchased_at", filter=in_window),
            f"before_start{i}": Count(
                "purchased_at", filter=_in("purchased_at", start_at - window, start_at)
            ),
            f"last{i}": Max("purchased_at", filter=until_end),
            f"sub_end{i}": Max("subscription_ends_on", filter=in_window),
            f"days{i}": Count(day, distinct=True, filter=in_period),
            f"line_revenue{i}": Sum("amount", filter=in_period),
            f"costed_revenue{i}": Sum("amount", filter=in_period & costed),
            f"known_cost{i}": Sum(F("product__cost") * F("quantity"), filter=in_period & costed),
            f"revenue_total{i}": Sum("amount", filter=until_end),
            f"margin_total{i}": Sum(margin_line, filter=until_end),
        }
        # Spelled out without negation: a NOT over a NULL aggregate would be NULL, not true.
        lapsed = Q(**{f"sub_end{i}__gte": period.start, f"sub_end{i}__lte": period.end})
        holds = (
            Q(**{f"sub_end{i}__isnull": True})
            | Q(**{f"sub_end{i}__lt": period.start})
            | Q(**{f"sub_end{i}__gt": period.end})
        )
        at_start = Q(**{f"before_start{i}__gt": 0})
        customer = Q(**{f"window{i}__gt": 0})
        revenue = _as_float(F(f"revenue_total{i}"))
        margin = _as_float(F(f"margin_total{i}"))
        outer |= {
            f"at_start{i}": Count("customer_id", filter=at_start),
            f"lost{i}": Count(
                "customer_id",
                filter=at_start & (Q(**{f"last{i}__lt": end_before - window}) | lapsed),
            ),
            f"at_end{i}": Count(
                "customer_id",
                filter=customer & Q(**{f"last{i}__gte": end_before - window}) & holds,
            ),
            # New: the first purchase ever falls in the period.
            f"new{i}": Count("customer_id", filter=customer & Q(first__gte=start_at)),
            f"customers{i}": Count("customer_id", filter=Q(**{f"days{i}__gt": 0})),
            f"repeaters{i}": Count("customer_id", filter=Q(**{f"days{i}__gte": 2})),
            f"orders{i}": Sum(f"days{i}"),
            f"revenue{i}": Sum(f"line_revenue{i}"),
            f"revenue_with_cost{i}": Sum(f"costed_revenue{i}"),
            f"cost{i}": Sum(f"known_cost{i}"),
            f"clv_n{i}": Count("customer_id", filter=Q(**{f"last{i}__isnull": False})),
            f"clv_sum{i}": Sum(revenue),
            f"clv_sum_sq{i}": Sum(revenue * revenue),
            f"margin_n{i}": Count(f"margin_total{i}"),
            f"margin_sum{i}": Sum(margin),
        }
    latest_end = max(period.end_before for period in periods)
    purchases = _completed_purchases(filters).filter(purchased_at__lt=latest_end)
    if customers is not None:
        purchases = purchases.filter(customer_id__in=customers)
    row = purchases.values("customer_id").annotate(**inner).aggregate(**outer)
    return [
        {key: row[f"{key}{i}"] for key in CUSTOMER_COUNTS + CUSTOMER_SUMS}
        for i in range(len(periods))
    ]


def purchase_activity(filters: MetricFilters) -> dict[str, Any]:
    """Buying customers of the period, those buying on two or more days, their orders
    (customer-days) and the revenue and known cost of the lines, shared by the repeat
    purchase rate and the simple CLV."""
    return customer_figures(filters, [filters.period])[0]["activity"]


def repeat_purchase_rate(filters: MetricFilters) -> Estimate:
    """Customers with purchases on two or more days in the period / customers with any.

    Lines bought by one customer on one day are one transaction (one order).
    """
    return repeat_from_activity(purchase_activity(filters))


def repeat_from_activity(activity: dict[str, Any]) -> Estimate:
    return stats.share(int(activity["repeaters"]), int(activity["customers"]))


def customer_base(filters: MetricFilters) -> dict[str, int]:
    """Customers at the start of the period, lost in it, at its end, and new in it.

    A customer is a customer at an instant when they bought within the inactivity window
    before it. Lost: a customer at the start who is not at the end, or whose latest
    subscription (of the purchases in the window before the end) ended in the period without
    a renewal. New: first purchase ever in the period.
    """
    return customer_figures(filters, [filters.period])[0]["base"]


def churn_rate(filters: MetricFilters) -> Estimate:
    """Customers lost during the period / customers at its start, in percent."""
    return churn_from_base(customer_base(filters))


def churn_from_base(base: dict[str, int]) -> Estimate:
    return stats.share(
        base["lost"], base["at_start"], components={"inactivity_days": churn_inactivity_days()}
    )


def retention_rate(filters: MetricFilters) -> Estimate:
    """(customers at end - new customers) / customers at start x 100.

    The Wilson interval applies while the retained count lies within the starting base (it
    can exceed it when lapsed customers come back).
    """
    return retention_from_base(customer_base(filters))


def retention_from_base(base: dict[str, int]) -> Estimate:
    start, retained = base["at_start"], base["at_end"] - base["new"]
    if start <= 0:
        return Estimate(value=None, n=0, components=base)
    if 0 <= retained <= start:
        result = stats.share(retained, start, components=base)
        return result
    return Estimate(value=stats.PERCENT * retained / start, n=start, components=base)


def historical_clv(filters: MetricFilters) -> Estimate:
    """Revenue per customer from their first purchase to the end of the period (mean, t CI).

    The margin (revenue less known product cost) is averaged over the same customers,
    counting only lines whose product has a cost.
    """
    return historical_clv_from_row(customer_figures(filters, [filters.period])[0]["clv"])


def historical_clv_from_row(row: Mapping[str, Any]) -> Estimate:
    result = stats.within(_mean_of()(row), NON_NEGATIVE)  # revenue to date is never negative
    if not result.has_data:
        return result
    return Estimate(
        value=result.value,
        n=result.n,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        sd=result.sd,
        components={"average_margin": row["margin"], "currency": settings.DEFAULT_CURRENCY},
    )


def _simple_clv(filters: MetricFilters) -> Estimate:
    from metrics.clv import simple_clv  # clv reads this module's filters

    return simple_clv(filters)


# --- The registry ---------------------------------------------------------------------------


def _customer_metric(
    name: str,
    label: str | Promise,
    compute: Callable[[MetricFilters], Estimate],
    *,
    unit: str = "percent",
    kind: str = SHARE,
    higher_is_better: bool = True,
) -> MetricDefinition:
    return MetricDefinition(
        name=name,
        label=label,
        unit=unit,
        kind=kind,
        higher_is_better=higher_is_better,
        compute=compute,
    )


METRICS: dict[str, MetricDefinition] = {
    definition.name: definition
    for definition in [
        _fact("csat", _("CSAT, satisfied share"), "percent", SHARE, CSAT),
        _fact("csat_mean", _("CSAT, mean score (1-5)"), "score", MEAN, CSAT_MEAN),
        _fact("nps", _("NPS"), "points", NPS, NPS_FACT),
        _fact("ces", _("CES, mean effort (1-7, 7 = easy)"), "score", MEAN, CES_MEAN),
        _fact("ces_easy", _("CES, share of easy answers"), "percent", SHARE, CES_EASY),
        _customer_metric("repeat_purchase_rate", _("Repeat purchase rate"), repeat_purchase_rate),
        _customer_metric("churn_rate", _("Churn rate"), churn_rate, higher_is_better=False),
        _customer_metric("retention_rate", _("Retention rate"), retention_rate),
        _fact(
            "average_resolution_time",
            _("Average resolution time, hours"),
            "hours",
            MEAN,
            RESOLUTION_TIME,
            higher_is_better=False,
        ),
        MetricDefinition(
            name="median_resolution_time",
            label=_("Median resolution time, hours"),
            unit="hours",
            kind=MEDIAN,
            higher_is_better=False,
            compute=median_resolution_time,
            split=_median_split,
            dimensions=DIMENSIONS,
        ),
        _fact(
            "first_response_time",
            _("First response time, minutes"),
            "minutes",
            MEAN,
            FIRST_RESPONSE,
            higher_is_better=False,
        ),
        _fact(
            "first_contact_resolution",
            _("First contact resolution"),
            "percent",
            SHARE,
            FIRST_CONTACT_RESOLUTION,
        ),
        _fact("resolution_rate", _("Resolution rate"), "percent", SHARE, RESOLUTION_RATE),
        _fact(
            "abandonment_rate",
            _("Abandonment rate"),
            "percent",
            SHARE,
            ABANDONMENT,
            higher_is_better=False,
        ),
        _fact(
            "average_waiting_time",
            _("Average waiting time, seconds"),
            "seconds",
            MEAN,
            WAITING_TIME,
            higher_is_better=False,
        ),
        _fact(
            "interest_conversion_rate",
            _("Conversion of interests"),
            "percent",
            SHARE,
            INTEREST_CONVERSION,
        ),
        _fact(
            "offer_conversion_rate", _("Conversion of offers"), "percent", SHARE, OFFER_CONVERSION
        ),
        _fact(
            "sentiment_positive",
            _("Positive comments"),
            "percent",
            SHARE,
            _sentiment(SurveyResponse.Sentiment.POSITIVE),
        ),
        _fact(
            "sentiment_neutral",
            _("Neutral comments"),
            "percent",
            SHARE,
            _sentiment(SurveyResponse.Sentiment.NEUTRAL),
        ),
        _fact(
            "sentiment_negative",
            _("Negative comments"),
            "percent",
            SHARE,
            _sentiment(SurveyResponse.Sentiment.NEGATIVE),
            higher_is_better=False,
        ),
        _customer_metric(
            "clv_historical",
            _("Historical CLV, revenue per customer"),
            historical_clv,
            unit="currency",
            kind=MEAN,
        ),
        _customer_metric(
            "clv_simple",
            _("Simple CLV: AOV x frequency x lifespan x margin"),
            _simple_clv,
            unit="currency",
            kind=MEAN,
        ),
    ]
}


def compute_metric(name: str, filters: MetricFilters) -> Estimate:
    """One metric over the filters; KeyError for an unknown name."""
    return METRICS[name].compute(filters)


def _filtered(aggregate: Any, where: Q | None) -> Any:
    """The aggregate restricted to the rows `where` selects (FILTER (WHERE ...))."""
    if not where:
        return aggregate
    restricted = copy.copy(aggregate)
    # Django keeps the filter wrapped (AggregateFilter); its condition is the Q given.
    current = aggregate.filter.condition if aggregate.filter is not None else None
    restricted.filter = AggregateFilter(where if current is None else where & current)
    return restricted


def _family_aggregates(members: list[tuple[str, FactMetric]]) -> dict[str, Any]:
    return {
        f"m{index}_{key}": _filtered(aggregate, fact.where)
        for index, (_name, fact) in enumerate(members)
        for key, aggregate in fact.aggregates().items()
    }


def _member_row(row: Mapping[str, Any], index: int, *, prefix: str = "") -> dict[str, Any]:
    prefix = f"{prefix}m{index}_"
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


def _families(names: list[str]) -> tuple[dict[str, list[tuple[str, FactMetric]]], list[str]]:
    """Fact metrics grouped by family (two or more members), and the other names."""
    grouped: dict[str, list[tuple[str, FactMetric]]] = defaultdict(list)
    for name in names:
        fact = METRICS[name].fact
        if fact is not None and fact.family and fact.base is not None:
            grouped[fact.family].append((name, fact))
    families = {family: members for family, members in grouped.items() if len(members) > 1}
    merged = {name for members in families.values() for name, _fact in members}
    return families, [name for name in names if name not in merged]


CUSTOMER_METRICS = (
    "repeat_purchase_rate",
    "churn_rate",
    "retention_rate",
    "clv_historical",
    "clv_simple",
)


def compute_periods(
    filters: MetricFilters, periods: list[Period], names: list[str] | None = None
) -> list[dict[str, Estimate]]:
    """Every metric (or those named) over the filters, for each of `periods`.

    The facts of all periods are read together: one grouped read per family of fact metrics
    (`GroupedFacts`, all periods at once), the customer-base metrics from
    `customer_figures`, and the medians (`median_periods`). The dashboard asks for a period
    and the one before it (trend arrows) and pays for one pass over each fact table.
    """
    from metrics.clv import simple_clv_from_activity  # clv reads this module's filters

    names = names or list(METRICS)
    results: list[dict[str, Estimate]] = [{} for _period in periods]
    facts = GroupedFacts(filters, periods)
    for name in names:
        if METRICS[name].fact is not None:
            for j in range(len(periods)):
                results[j][name] = facts.compute(name, period=j)
    if MEDIAN_METRIC in names:
        for j, median in enumerate(median_periods(filters, periods, cohorts=False)[0]):
            results[j][MEDIAN_METRIC] = median
    if any(name in CUSTOMER_METRICS for name in names):
        for j, (period, customer) in enumerate(
            zip(periods, customer_figures(filters, periods), strict=True)
        ):
            base, activity = customer["base"], customer["activity"]
            results[j] |= {
                "repeat_purchase_rate": repeat_from_activity(activity),
                "clv_simple": simple_clv_from_activity(activity, period),
                "churn_rate": churn_from_base(base),
                "retention_rate": retention_from_base(base),
                "clv_historical": historical_clv_from_row(customer["clv"]),
            }
    for j, period in enumerate(periods):
        for name in names:
            if name not in results[j]:
                results[j][name] = METRICS[name].compute(filters.with_period(period))
    return [{name: figures[name] for name in names} for figures in results]


def compute_all(filters: MetricFilters, names: list[str] | None = None) -> dict[str, Estimate]:
    """Every metric (or those named) over the filters: one query per family of fact
    metrics, one for the customer-base metrics, one for the median."""
    return compute_periods(filters, [filters.period], names)[0]


def split_all(
    names: list[str], filters: MetricFilters, dimension: str
) -> dict[str, dict[Any, Estimate]]:
    """Several metrics split by `dimension`; a family's metrics share one grouped query."""
    splittable = [
        name
        for name in names
        if METRICS[name].split is not None and dimension in METRICS[name].dimensions
    ]
    families, others = _families(splittable)
    results: dict[str, dict[Any, Estimate]] = {name: {} for name in names}
    for members in families.values():
        base = members[0][1].base
        assert base is not None
        path = members[0][1].dimension_paths[dimension]
        rows = base(filters).values(path).annotate(**_family_aggregates(members)).order_by(path)
        for row in rows:
            for index, (name, fact) in enumerate(members):
                estimate = fact.finished(_member_row(row, index))
                if estimate.n:
                    results[name][row[path]] = estimate
    for name in others:
        results[name] = split_metric(name, filters, dimension)
    return results


def split_metric(name: str, filters: MetricFilters, dimension: str) -> dict[Any, Estimate]:
    """One metric split by `dimension`; {} when the metric cannot be split that way."""
    definition = METRICS[name]
    if definition.split is None or dimension not in definition.dimensions:
        return {}
    return definition.split(filters, dimension)


# --- One grouped pass per fact table (the dashboard) -----------------------------------------

WEIGHT = "weight"  # beside a mean: how many values it averages (for pooling groups)


class GroupedFacts:
    """Fact metrics of several periods, grouped by every dimension at once, from one query
    per family of metrics (read lazily, once): the overall figures and every split by
    channel, operator or personalised flag are sums over those groups in Python.

    Counts add up exactly; means are pooled from the groups' means weighted by their counts
    (the same figure up to floating-point rounding). The personalised filter is applied to
    the groups rather than in SQL, so that the cohort comparison (which splits by the flag)
    reads the same rows. Medians and customer-base metrics are not fact metrics here.
    """

    def __init__(self, filters: MetricFilters, periods: list[Period]) -> None:
        self.filters = filters
        self.periods = periods
        self._rows: dict[str, tuple[list[tuple[str, FactMetric]], list[dict[str, Any]]]] = {}
        self._medians: tuple[list[Estimate], dict[Any, Estimate]] | None = None
        self._covered_days: dict[str, set[dt.date]] | None = None

    def _family(self, name: str) -> tuple[list[tuple[str, FactMetric]], list[dict[str, Any]]]:
        fact = METRICS[name].fact
        assert fact is not None, name
        key = fact.family or name
        if key not in self._rows:
            members = [
                (other, definition.fact)
                for other, definition in METRICS.items()
                if definition.fact is not None and (definition.fact.family or other) == key
            ]
            self._rows[key] = (members, self._read(members))
        return self._rows[key]

    def _read(self, members: list[tuple[str, FactMetric]]) -> list[dict[str, Any]]:
        """The family's groups: from the daily rollup for the days it covers (when the
        slices allow it, metrics.rollups), from the facts for the other days of the span."""
        from metrics import rollups  # rollups builds on this module

        first = members[0][1]
        base = first.base if first.family and first.base is not None else first.source
        periods = self.periods
        span = Period(min(p.start for p in periods), max(p.end for p in periods))
        covered: set[dt.date] = set()
        if rollups.applies(members, self.filters):
            covered = self._covered(span).get(rollups.family_key(members), set())
        rows = rollups.read(members, self.filters, periods, covered) if covered else []
        outside = rollups.facts_outside(first.time_field, covered, span)
        if len(covered) >= span.days:
            return rows
        aggregates: dict[str, Any] = {}
        for j, period in enumerate(periods):
            in_period = _in(first.time_field, period.start_at, period.end_before)
            for index, (_name, fact) in enumerate(members):
                where = fact.where if first.family else None
                condition = (where & in_period) if where is not None else in_period
                for key, aggregate in fact.aggregates().items():
                    aggregates[f"p{j}_m{index}_{key}"] = _filtered(aggregate, condition)
                    if key == "mean":
                        value = aggregate.get_source_expressions()[0]
                        aggregates[f"p{j}_m{index}_{WEIGHT}"] = _filtered(Count(value), condition)
        paths = sorted(set(first.dimension_paths.values()))
        filters = self.filters.with_period(span).with_personalized(None)
        queryset = base(filters)
        if outside is not None:
            queryset = queryset.filter(outside)
        return rows + list(queryset.values(*paths).annotate(**aggregates).order_by())

    def _covered(self, span: Period) -> dict[str, set[dt.date]]:
        """The days of the span each family's rollup covers: one query for all families."""
        from metrics import rollups

        if self._covered_days is None:
            self._covered_days = rollups.covered_days(
                {key: rollups.schema(members) for key, members in rollups.families().items()},
                span.start,
                span.end,
            )
        return self._covered_days

    def _pooled(
        self, name: str, period: int, dimension: str = "", key: Any = None
    ) -> dict[str, Any]:
        """The aggregated row of the metric over the groups (those whose `dimension` is
        `key` when given), as one aggregate over their rows would give it."""
        fact = METRICS[name].fact
        assert fact is not None, name
        members, rows = self._family(name)
        index = next(i for i, (member, _fact) in enumerate(members) if member == name)
        # Split by the flag, the cohort view ignores the filters' flag; else it selects groups.
        wanted = None if dimension == "personalized" else self.filters.personalized
        flag = fact.dimension_paths.get("personalized")
        path = fact.dimension_paths.get(dimension) if dimension else None
        parts = [
            _member_row(row, index, prefix=f"p{period}_")
            for row in rows
            if (path is None or row[path] == key)
            and (wanted is None or flag is None or row[flag] == wanted)
        ]
        total: dict[str, Any] = {}
        for name_of_key in fact.aggregates():
            if name_of_key in {"mean", "mean_sq"}:
                present = [part for part in parts if part[name_of_key] is not None]
                weight = sum(part[WEIGHT] or 0 for part in present)
                total[name_of_key] = (
                    sum(part[WEIGHT] * part[name_of_key] for part in present) / weight
                    if weight
                    else None
                )
            else:
                total[name_of_key] = sum(part[name_of_key] or 0 for part in parts)
        return total

    def medians(self) -> tuple[list[Estimate], dict[Any, Estimate]]:
        """The median resolution time of each period and its cohort split (one query)."""
        if self._medians is None:
            self._medians = median_periods(self.filters, self.periods)
        return self._medians

    def compute(self, name: str, *, period: int = 0) -> Estimate:
        """The metric over the filters for the `period`-th period."""
        fact = METRICS[name].fact
        assert fact is not None, name
        return fact.finished(self._pooled(name, period))

    def split(self, name: str, dimension: str) -> dict[Any, Estimate]:
        """The metric split by `dimension` over the first period: groups with data only.
        Split by the personalised flag it ignores the filters' flag (the cohort view)."""
        definition = METRICS[name]
        if definition.fact is None or dimension not in definition.dimensions:
            return {}
        fact = definition.fact
        path = fact.dimension_paths[dimension]
        _members, rows = self._family(name)
        out: dict[Any, Estimate] = {}
        for key in {row[path] for row in rows}:
            estimate = fact.finished(self._pooled(name, 0, dimension, key))
            if estimate.n:
                out[key] = estimate
        return out
