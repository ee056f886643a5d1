"""Reads that assemble the dashboard: KPI tiles with trends, the cohort comparison, the
per-operator and per-channel tables, and time series (from snapshots where complete)."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q

from core.dates import site_today
from customers.models import Channel
from metrics import stats
from metrics.definitions.base import MEAN, NPS, SHARE, MetricDefinition
from metrics.definitions.tickets import MEDIAN_METRIC, median_periods
from metrics.engine import GroupedFacts, compute_metric, compute_periods, split_metric
from metrics.models import MetricSnapshot
from metrics.periods import MetricFilters, Period
from metrics.registry import METRICS
from metrics.stats import Difference, Estimate

# Relative change below which a trend counts as flat (half a percent of the earlier value).
FLAT_TREND = 0.005
OPERATOR_METRICS = (
    "csat",
    "nps",
    "first_response_time",
    "average_resolution_time",
    "first_contact_resolution",
    "resolution_rate",
    "offer_conversion_rate",
)
CHANNEL_METRICS = ("average_waiting_time", "abandonment_rate", "csat", "first_contact_resolution")
# Snapshot rows kept beside a metric so that days combine exactly into weeks and months.
SD_SUFFIX, PROMOTERS_SUFFIX, DETRACTORS_SUFFIX = ".sd", ".promoters", ".detractors"


# --- KPI tiles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    definition: MetricDefinition
    current: Estimate
    previous: Estimate
    # The figure the tile prints when it is not the value itself rounded: shares of one whole
    # (sentiment) rounded so that they add up to 100 (see shares_summing_to_100).
    shown: float | None = None

    @property
    def shown_value(self) -> float | None:
        return self.current.value if self.shown is None else self.shown

    @property
    def trend(self) -> str:
        """ "up", "down" or "flat" against the previous period; "" without both figures."""
        now, before = self.current.value, self.previous.value
        if now is None or before is None:
            return ""
        if abs(now - before) <= FLAT_TREND * max(abs(before), 1e-9):
            return "flat"
        return "up" if now > before else "down"

    @property
    def trend_is_good(self) -> bool | None:
        if self.trend in {"", "flat"}:
            return None
        return (self.trend == "up") == self.definition.higher_is_better


def _grouped(filters: MetricFilters, facts: GroupedFacts | None) -> GroupedFacts:
    return facts or GroupedFacts(filters, [filters.period])


def kpis(filters: MetricFilters, facts: GroupedFacts | None = None) -> list[Kpi]:
    """Every metric for the period and for the period of equal length before it, read
    together: one grouped pass over each fact table for both periods (`GroupedFacts`), one
    over the purchase history for the customer-base metrics, the median per period."""
    periods = [filters.period, filters.period.previous()]
    facts = facts or GroupedFacts(filters, periods)
    others = [
        name
        for name, definition in METRICS.items()
        if definition.fact is None and name != MEDIAN_METRIC
    ]
    current, previous = compute_periods(filters, periods, others)
    medians = (
        facts.medians()[0] if facts.periods == periods else median_periods(filters, periods)[0]
    )
    current[MEDIAN_METRIC], previous[MEDIAN_METRIC] = medians[0], medians[1]
    for name, definition in METRICS.items():
        if definition.fact is not None:
            current[name] = facts.compute(name, period=0)
            previous[name] = facts.compute(name, period=1)
    shown = shares_summing_to_100([current[name] for name in SENTIMENT_METRICS])
    return [Kpi(METRICS[name], current[name], previous[name], shown.get(name)) for name in METRICS]


# The sentiment shares split one set of comments: shown, they add up to 100.
SENTIMENT_METRICS = ("sentiment_positive", "sentiment_neutral", "sentiment_negative")
SHOWN_DECIMALS = 1


def shares_summing_to_100(estimates: list[Estimate]) -> dict[str, float]:
    """Shares of one whole rounded to SHOWN_DECIMALS by the largest remainder method, so that
    the shown figures add up to exactly 100 (rounding each alone can give 99.9 or 100.1).

    Keyed by SENTIMENT_METRICS; empty unless all have data over the same n."""
    ns = {estimate.n for estimate in estimates}
    if len(ns) != 1 or not all(estimate.has_data for estimate in estimates):
        return {}
    n = ns.pop()
    units = 100 * 10**SHOWN_DECIMALS
    counts = [int(estimate.components.get("successes", 0)) for estimate in estimates]
    if sum(counts) != n:
        return {}
    floors = [count * units // n for count in counts]
    remainders = [count * units % n for count in counts]
    order = sorted(range(len(counts)), key=lambda i: remainders[i], reverse=True)
    for i in order[: units - sum(floors)]:
        floors[i] += 1
    return {
        name: floor / 10**SHOWN_DECIMALS
        for name, floor in zip(SENTIMENT_METRICS, floors, strict=True)
    }


# --- Cohort comparison ----------------------------------------------------------------------


@dataclass(frozen=True)
class CohortRow:
    definition: MetricDefinition
    personalised: Estimate
    not_personalised: Estimate
    difference: Difference


def compare(definition: MetricDefinition, a: Estimate, b: Estimate) -> Difference:
    """The right test for the metric's kind; medians are not tested."""
    if definition.kind == SHARE:
        if not a.has_data or not b.has_data:
            return stats.NOT_TESTABLE
        return stats.two_proportion_test(
            int(a.components.get("successes", 0)), a.n, int(b.components.get("successes", 0)), b.n
        )
    if definition.kind == NPS:
        return stats.nps_difference_test(a, b)
    if definition.kind == MEAN:
        return stats.welch_test(a, b)
    return stats.NOT_TESTABLE


def cohorts(filters: MetricFilters, facts: GroupedFacts | None = None) -> list[CohortRow]:
    """Each metric that has a personalised flag, split personalised vs not."""
    rows = []
    facts = _grouped(filters, facts)
    names = [name for name, d in METRICS.items() if "personalized" in d.dimensions]
    for name in names:
        definition = METRICS[name]
        if definition.fact is not None:
            split = facts.split(name, "personalized")
        elif name == MEDIAN_METRIC:
            split = facts.medians()[1]
        else:
            split = split_metric(name, filters.with_personalized(None), "personalized")
        yes = split.get(True, stats.NO_DATA)
        no = split.get(False, stats.NO_DATA)
        rows.append(CohortRow(definition, yes, no, compare(definition, yes, no)))
    return rows


# --- Per operator and per channel -----------------------------------------------------------


@dataclass(frozen=True)
class SplitTable:
    """Rows (an operator, a channel) by columns (metrics), each cell an Estimate."""

    columns: list[MetricDefinition]
    rows: list[tuple[Any, str, dict[str, Estimate]]]  # (key, label, metric -> estimate)


def operators_table(filters: MetricFilters, facts: GroupedFacts | None = None) -> SplitTable:
    """The operator metrics per operator who has any figure in the period."""
    facts = _grouped(filters, facts)
    by_metric = {name: facts.split(name, "operator") for name in OPERATOR_METRICS}
    ids = {key for split in by_metric.values() for key in split if key is not None}
    users = get_user_model().objects.filter(pk__in=ids).order_by("username")
    rows = [
        (
            user.pk,
            user.get_full_name() or user.get_username(),
            {name: by_metric[name].get(user.pk, stats.NO_DATA) for name in OPERATOR_METRICS},
        )
        for user in users
    ]
    return SplitTable([METRICS[name] for name in OPERATOR_METRICS], rows)


def channels_table(filters: MetricFilters, facts: GroupedFacts | None = None) -> SplitTable:
    """Waiting time, abandonment, CSAT and first contact resolution per service channel."""
    facts = _grouped(filters, facts)
    by_metric = {name: facts.split(name, "channel") for name in CHANNEL_METRICS}
    present = {key for split in by_metric.values() for key in split if key}
    rows = [
        (
            channel.value,
            str(channel.label),
            {name: by_metric[name].get(channel.value, stats.NO_DATA) for name in CHANNEL_METRICS},
        )
        for channel in Channel
        if channel.value in present
    ]
    return SplitTable([METRICS[name] for name in CHANNEL_METRICS], rows)


@dataclass(frozen=True)
class Dashboard:
    kpis: list[Kpi]
    cohorts: list[CohortRow]
    operators: SplitTable
    channels: SplitTable


def dashboard(filters: MetricFilters) -> Dashboard:
    """Everything the dashboard shows, from one grouped pass over each fact table (the period
    and the one before it together), one over the purchase history, and the medians."""
    facts = GroupedFacts(filters, [filters.period, filters.period.previous()])
    return Dashboard(
        kpis=kpis(filters, facts),
        cohorts=cohorts(filters, facts),
        operators=operators_table(filters, facts),
        channels=channels_table(filters, facts),
    )


# --- Time series ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    start: dt.date  # the week's Monday or the month's first day
    end: dt.date  # the bucket's last day within the period
    estimate: Estimate
    source: str  # "snapshots" or "facts"


def bucket_start(day: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(start: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def buckets(period: Period, interval: str) -> list[tuple[dt.date, Period]]:
    """(bucket start, the part of the period inside the bucket), in order."""
    out = []
    start = bucket_start(period.start, interval)
    while start <= period.end:
        after = next_bucket(start, interval)
        inside = Period(max(start, period.start), min(after - dt.timedelta(days=1), period.end))
        out.append((start, inside))
        start = after
    return out


def combine(
    kind: str, days: list[dict[str, Any]], bounds: stats.Bounds = stats.UNBOUNDED
) -> Estimate:
    return stats.within(_combine(kind, days), bounds)


def _combine(kind: str, days: list[dict[str, Any]]) -> Estimate:
    """Daily snapshot figures combined exactly into one figure over all those days."""
    days = [day for day in days if day["n"]]
    total = sum(day["n"] for day in days)
    if not total:
        return stats.NO_DATA
    if kind == SHARE:
        successes = sum(round((day["value"] or 0) * day["n"] / stats.PERCENT) for day in days)
        return stats.share(min(successes, total), total)
    if kind == NPS:
        promoters = sum(
            round((day.get("promoters") or 0) * day["n"] / stats.PERCENT) for day in days
        )
        detractors = sum(
            round((day.get("detractors") or 0) * day["n"] / stats.PERCENT) for day in days
        )
        return stats.nps(promoters, total - promoters - detractors, detractors)
    grand = sum(day["value"] * day["n"] for day in days) / total
    if total < 2:
        return stats.mean(grand, None, total)
    within = sum((day["n"] - 1) * (day.get("sd") or 0.0) ** 2 for day in days)
    between = sum(day["n"] * (day["value"] - grand) ** 2 for day in days)
    return stats.mean(grand, math.sqrt((within + between) / (total - 1)), total)


def _snapshot_days(
    name: str, filters: MetricFilters, last_day: dt.date
) -> tuple[set[dt.date], dict[dt.date, dict[str, Any]]]:
    """Days that have a snapshot of the metric, and that slice's figures per day."""
    dimension, value = ("channel", filters.channel) if filters.channel else ("", "")
    rows = MetricSnapshot.objects.filter(
        Q(dimension="", dimension_value="") | Q(dimension=dimension, dimension_value=value),
        metric__in=[name, name + SD_SUFFIX, name + PROMOTERS_SUFFIX, name + DETRACTORS_SUFFIX],
        day__gte=filters.period.start,
        day__lte=last_day,
    ).values_list("day", "metric", "dimension", "value", "n")
    computed: set[dt.date] = set()
    figures: dict[dt.date, dict[str, Any]] = defaultdict(dict)
    for day, metric, row_dimension, figure, n in rows:
        if metric == name and row_dimension == "":
            computed.add(day)
        if row_dimension != dimension:
            continue
        field = {
            name: "value",
            name + SD_SUFFIX: "sd",
            name + PROMOTERS_SUFFIX: "promoters",
            name + DETRACTORS_SUFFIX: "detractors",
        }[metric]
        figures[day][field] = figure
        if field == "value":
            figures[day]["n"] = n
    return computed, figures


def timeseries(name: str, filters: MetricFilters, *, interval: str) -> list[SeriesPoint]:
    """The metric per week or month of the period.

    A bucket whose every day (up to yesterday) has a snapshot is combined from the snapshots
    (exactly: counts, pooled means and variances); any other bucket, and every metric that
    does not add up over days (medians, customer-base rates) or a slice snapshots do not
    hold (operator, category, segment, personalised), is computed from the facts.
    """
    definition = METRICS[name]
    parts = buckets(filters.period, interval)
    snapshot_slice = (
        filters.operator_id is None
        and filters.category_id is None
        and not filters.segment
        and filters.personalized is None
    )
    from_snapshots: dict[dt.date, Estimate] = {}
    if definition.additive and snapshot_slice:
        yesterday = site_today() - dt.timedelta(days=1)
        computed, figures = _snapshot_days(name, filters, min(yesterday, filters.period.end))
        for start, inside in parts:
            days = [inside.start + dt.timedelta(days=i) for i in range(inside.days)]
            if days and all(day in computed for day in days):
                from_snapshots[start] = combine(
                    definition.kind,
                    [figures[day] for day in days if day in figures],
                    definition.bounds,
                )
    missing = [(start, inside) for start, inside in parts if start not in from_snapshots]
    from_facts: dict[dt.date, Estimate] = {}
    if missing and definition.buckets is not None:
        span = Period(missing[0][1].start, missing[-1][1].end)
        from_facts = definition.buckets(filters.with_period(span), interval)
    elif missing:
        from_facts = {
            start: compute_metric(name, filters.with_period(inside)) for start, inside in missing
        }
    return [
        SeriesPoint(
            start=start,
            end=inside.end,
            estimate=from_snapshots.get(start) or from_facts.get(start, stats.NO_DATA),
            source="snapshots" if start in from_snapshots else "facts",
        )
        for start, inside in parts
    ]
