"""What a metric is: `MetricDefinition` (name, label, unit, how it reads) and `FactMetric` (an
aggregate over fact rows), with the helpers every domain's definitions share: applying the
period and slices to facts (`apply_filters`) and turning aggregated rows into `Estimate`s.

A definition says which rows and which aggregates; it does not know how it is evaluated in
one pass (`metrics.engine`) nor that daily rollups exist (`metrics.rollups`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Avg, Count, FloatField, Q, QuerySet
from django.db.models.functions import Cast, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.functional import Promise

from core.dates import site_day
from metrics import stats
from metrics.periods import MetricFilters, Period
from metrics.stats import Estimate

# How a metric reads (the dashboard's formatting, the snapshots' extra rows).
SHARE, MEAN, NPS, MEDIAN = "share", "mean", "nps", "median"
# The dimensions a metric can be split by: the cohort table, per operator, per channel.
DIMENSIONS = ("channel", "operator", "personalized")
# Times and money to date: no value below zero.
NON_NEGATIVE: stats.Bounds = (0.0, None)
SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
# The aggregate beside a mean that counts the values it averages, so that the means of groups
# of rows can be pooled into the mean of all of them (see `moments`).
WEIGHT = "weight"
MEAN_KEYS = ("mean", "mean_sq")


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


def in_range(field: str, start: dt.datetime | None, end: dt.datetime) -> Q:
    """`start <= field < end` (no lower bound when start is None)."""
    condition = Q(**{f"{field}__lt": end})
    return condition & Q(**{f"{field}__gte": start}) if start is not None else condition


def span_of(periods: list[Period]) -> Period:
    """The days from the first period's start to the last one's end."""
    return Period(min(p.start for p in periods), max(p.end for p in periods))


# --- The definition of a metric -----------------------------------------------------------

# Per period, what the customer-base metrics are computed from (metrics.customer_figures):
# {"activity": {...}, "base": {...}, "clv": {...}}.
CustomerFigures = Mapping[str, Any]


@dataclass(frozen=True)
class MetricDefinition:
    """One metric: its name, how to read it, and how it is computed: a fact metric (`fact`),
    a metric with its own query (`compute`, `split`: the median), or a customer-base metric
    (`from_customer_figures`, over the per-period figures of the customer base)."""

    name: str
    label: str | Promise
    unit: str
    kind: str
    higher_is_better: bool
    # Overall figure for the filters (fact metrics and the median).
    compute: Callable[[MetricFilters], Estimate] | None = None
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
    # A customer-base metric: its figure from the period's customer figures.
    from_customer_figures: Callable[[CustomerFigures, Period], Estimate] | None = None

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
    # the engine answers a whole family with one query of filtered aggregates.
    family: str = ""
    base: Callable[[MetricFilters], QuerySet[Any]] | None = None
    where: Q | None = None
    # The lookups `source` filters each slice on (apply_filters).
    filter_paths: Paths = field(default_factory=dict)
    # The values the metric can take (a time >= 0, a score within its scale): intervals stop
    # at these edges (stats.within).
    bounds: stats.Bounds = stats.UNBOUNDED
    # Facts of other tables counted with these: a metric over two kinds of rows (sentiment:
    # survey comments and the customer's messages on tickets). Each part belongs to a family
    # of its own (read, rolled up and invalidated as any family); its aggregated counts are
    # added to this fact's before `finish`. Parts aggregate counts only: a sum of counts is
    # exact, where pooling means would need their weights.
    parts: tuple[FactMetric, ...] = ()

    def __post_init__(self) -> None:
        for part in self.parts:
            if part.parts or not part.family or part.base is None:
                raise ValueError("a part is a family's member with no parts of its own")
            if set(part.aggregates()) != set(self.aggregates()):
                raise ValueError("a part aggregates what the metric aggregates")
            if set(part.aggregates()) & set(MEAN_KEYS):
                raise ValueError("parts add counts; a mean cannot be added")

    @property
    def pieces(self) -> tuple[FactMetric, ...]:
        """This fact and its parts: every family the metric reads."""
        return (self, *self.parts)

    def finished(self, row: Mapping[str, Any]) -> Estimate:
        """The aggregated row as a figure, its interval within the metric's bounds."""
        return stats.within(self.finish(row), self.bounds)

    def compute(self, filters: MetricFilters) -> Estimate:
        rows = [piece.source(filters).aggregate(**piece.aggregates()) for piece in self.pieces]
        return self.finished(added(rows))

    def split(self, filters: MetricFilters, dimension: str) -> dict[Any, Estimate]:
        grouped: dict[Any, list[Mapping[str, Any]]] = {}
        for piece in self.pieces:
            path = piece.dimension_paths[dimension]
            rows = piece.source(filters).values(path).annotate(**piece.aggregates()).order_by(path)
            for row in rows:
                grouped.setdefault(row.pop(path), []).append(row)
        return {key: self.finished(added(rows)) for key, rows in grouped.items()}

    def buckets(self, filters: MetricFilters, interval: str) -> dict[dt.date, Estimate]:
        """The figure per week (starting Monday) or month of the period: one query per
        piece (the fact and each of its parts)."""
        trunc = {"week": TruncWeek, "month": TruncMonth}[interval]
        zone = timezone.get_default_timezone()
        grouped: dict[dt.date, list[Mapping[str, Any]]] = {}
        for piece in self.pieces:
            rows = (
                piece.source(filters)
                .annotate(_bucket=trunc(piece.time_field, tzinfo=zone))
                .values("_bucket")
                .annotate(**piece.aggregates())
                .order_by()
            )
            for row in rows:
                grouped.setdefault(as_day(row.pop("_bucket")), []).append(row)
        return {day: self.finished(added(grouped[day])) for day in sorted(grouped)}


def added(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Aggregated rows of counts (a fact's and its parts') as one, each count summed; a
    single row as it is (a fact without parts, whatever it aggregates)."""
    if len(rows) == 1:
        return rows[0]
    return {key: sum(row.get(key) or 0 for row in rows) for key in rows[0]}


def as_day(value: Any) -> dt.date:
    """A date, or the site-local day of a datetime, or of an ISO string (SQLite's TruncDate)."""
    if isinstance(value, dt.datetime):
        return site_day(value)
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def fact_metric(
    name: str,
    label: str | Promise,
    unit: str,
    kind: str,
    fact: FactMetric,
    *,
    higher_is_better: bool = True,
    description: str | Promise = "",
) -> MetricDefinition:
    """The definition of a fact metric: computed, split and bucketed by its fact."""
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


# --- From aggregated rows to figures ------------------------------------------------------


def share_of(row: Mapping[str, Any]) -> Estimate:
    """k of n as a share in percent (Wilson interval)."""
    return stats.share(row["k"] or 0, row["n"] or 0)


def moments(value: Any) -> dict[str, Any]:
    """n, mean and mean of squares: the sample sd follows, the same on every database
    (SQLite's STDDEV_SAMP fails on a single row)."""
    return {"n": Count("pk"), "mean": Avg(value), "mean_sq": Avg(value * value)}


def _sample_sd(n: int, mean: float, mean_sq: float | None) -> float | None:
    if n < 2 or mean_sq is None:
        return None
    variance = (mean_sq - mean * mean) * n / (n - 1)
    return math.sqrt(max(variance, 0.0))


def mean_of(scale: float = 1.0) -> Callable[[Mapping[str, Any]], Estimate]:
    """The finisher of `moments`: the mean (divided by `scale`) with its t interval."""

    def finish(row: Mapping[str, Any]) -> Estimate:
        n = row["n"] or 0
        if not n or row["mean"] is None:
            return stats.NO_DATA
        sd = _sample_sd(n, row["mean"], row.get("mean_sq"))
        return stats.mean(row["mean"] / scale, sd / scale if sd is not None else None, n)

    return finish


def as_float(expression: Any) -> Any:
    return Cast(expression, FloatField())
