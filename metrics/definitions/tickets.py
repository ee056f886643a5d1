"""Ticket metrics: first response time, average and median resolution time, first contact
resolution and resolution rate. Two families: tickets created in the period (first response,
resolution rate) and tickets resolved in it (resolution times, first contact resolution)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from metrics import stats
from metrics.definitions.base import (
    DIMENSIONS,
    MEAN,
    MEDIAN,
    NON_NEGATIVE,
    SECONDS_PER_HOUR,
    SECONDS_PER_MINUTE,
    SHARE,
    FactMetric,
    MetricDefinition,
    Paths,
    apply_filters,
    fact_metric,
    in_range,
    mean_of,
    moments,
    share_of,
    span_of,
)
from metrics.expressions import PercentileCont, SecondsBetween, median_by
from metrics.periods import MetricFilters, Period
from metrics.stats import Estimate
from tickets.models import Ticket

MEDIAN_METRIC = "median_resolution_time"

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
        return moments(SecondsBetween(F(start), F(end)))

    return aggregates


FIRST_RESPONSE = FactMetric(
    source=_tickets("created_at", first_response_at__isnull=False),
    family="tickets_created",
    base=_tickets("created_at"),
    where=Q(first_response_at__isnull=False),
    time_field="created_at",
    aggregates=_duration_aggregates("created_at", "first_response_at"),
    finish=mean_of(SECONDS_PER_MINUTE),
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
    finish=mean_of(SECONDS_PER_HOUR),
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
    finish=share_of,
    dimension_paths=TICKET_DIMENSIONS,
    filter_paths=TICKET_PATHS,
)
RESOLUTION_RATE = FactMetric(
    source=_tickets("created_at"),
    family="tickets_created",
    base=_tickets("created_at"),
    time_field="created_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=Q(resolved_at__isnull=False))},
    finish=share_of,
    dimension_paths=TICKET_DIMENSIONS,
    filter_paths=TICKET_PATHS,
)


def median_resolution_time(filters: MetricFilters) -> Estimate:
    """The median hours from creation to resolution of tickets resolved in the period."""
    return median_split(filters, None).get(None, stats.NO_DATA)


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
            median_split(filters.with_personalized(None), "personalized") if cohorts else {},
        )
    span = span_of(periods)
    tickets = _tickets("resolved_at", resolved_at__isnull=False)(
        filters.with_period(span).with_personalized(None)
    )
    seconds = SecondsBetween(F("created_at"), F("resolved_at"))
    flag = Q() if filters.personalized is None else Q(personalized=filters.personalized)
    first = in_range("resolved_at", periods[0].start_at, periods[0].end_before)
    wanted: dict[str, Q] = {
        f"p{j}": in_range("resolved_at", period.start_at, period.end_before) & flag
        for j, period in enumerate(periods)
    }
    if cohorts:
        wanted |= {"yes": first & Q(personalized=True), "no": first & Q(personalized=False)}
    aggregates: dict[str, Any] = {}
    for key, condition in wanted.items():
        aggregates[f"{key}_median"] = PercentileCont(seconds, filter=condition)
        aggregates[f"{key}_n"] = Count("pk", filter=condition)
    row = tickets.aggregate(**aggregates)

    def estimate(key: str) -> Estimate:
        if not row[f"{key}_n"] or row[f"{key}_median"] is None:
            return stats.NO_DATA
        return Estimate(value=row[f"{key}_median"] / SECONDS_PER_HOUR, n=row[f"{key}_n"])

    split = {
        flag_value: estimate(key)
        for flag_value, key in ((True, "yes"), (False, "no"))
        if key in wanted
    }
    return (
        [estimate(f"p{j}") for j in range(len(periods))],
        {key: value for key, value in split.items() if value.has_data},
    )


def median_split(filters: MetricFilters, dimension: str | None) -> dict[Any, Estimate]:
    queryset = _tickets("resolved_at", resolved_at__isnull=False)(filters)
    group = TICKET_DIMENSIONS[dimension] if dimension else None
    medians = median_by(queryset, SecondsBetween(F("created_at"), F("resolved_at")), group=group)
    return {
        key: Estimate(value=seconds / SECONDS_PER_HOUR, n=n)
        for key, (seconds, n) in medians.items()
        if seconds is not None
    }


DEFINITIONS = [
    fact_metric(
        "average_resolution_time",
        _("Average resolution time, hours"),
        "hours",
        MEAN,
        RESOLUTION_TIME,
        higher_is_better=False,
    ),
    MetricDefinition(
        name=MEDIAN_METRIC,
        label=_("Median resolution time, hours"),
        unit="hours",
        kind=MEDIAN,
        higher_is_better=False,
        compute=median_resolution_time,
        split=median_split,
        dimensions=DIMENSIONS,
    ),
    fact_metric(
        "first_response_time",
        _("First response time, minutes"),
        "minutes",
        MEAN,
        FIRST_RESPONSE,
        higher_is_better=False,
    ),
    fact_metric(
        "first_contact_resolution",
        _("First contact resolution"),
        "percent",
        SHARE,
        FIRST_CONTACT_RESOLUTION,
    ),
    fact_metric("resolution_rate", _("Resolution rate"), "percent", SHARE, RESOLUTION_RATE),
]
