"""Daily rollups of the fact metrics, so that the dashboard's cost follows days, not facts.

For every family of fact metrics (the metrics that read the same rows: "responses",
"tickets_created", "tickets_resolved", "inbound", and the offers and interests on their own)
`FactRollup` holds, per local day (settings.TIME_ZONE, as `metrics.periods.Period`) and per
group of the family's dimensions (channel, operator, personalised flag), the family's
aggregates as additive quantities: counts, and for means the sums beside their counts. The
dashboard (`metrics.engine.GroupedFacts`) adds up the rows of the days that are covered and
reads only the other days (today, yesterday, days written to since the last run) from the facts.

A day is read from the rollup only while its marker says it is covered, and every write that
changes a past day's facts uncovers it: `metrics.rollup_days` (markers, invalidation, and why
no write is lost to a job running at the same time); `metrics.rollup_invalidation` says which
writes uncover which days. A metric definition knows nothing of this module: a family's
rollup is derived from its definitions (`stored_aggregates`, `schema`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Count, FloatField, Min, Q, QuerySet, Sum
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from core.dates import site_day_start
from customers.selectors import fixed_rows
from metrics import customer_rollup, resolution_histogram
from metrics.aggregate_filter import condition_of, restricted
from metrics.definitions.base import MEAN_KEYS, WEIGHT, as_day, span_of
from metrics.definitions.customer_base import churn_inactivity_days
from metrics.models import ROLLUP_AGGREGATES, FactRollup, ResolutionTimeRollup
from metrics.periods import MetricFilters, Period
from metrics.registry import Members, families, family_key, family_rows
from metrics.rollup_days import (
    BATCH_DAYS,
    covered_days,
    days_from,
    days_in,
    last_rollable_day,
    mark_covered,
    read_versions,
    runs,
)

# The first day the job looks for facts from; no fact of this CRM is older.
EARLIEST_DAY = dt.date(1970, 1, 1)
# Where each dimension of a family is kept in FactRollup.
COLUMNS = {"channel": "channel", "operator": "operator_id", "personalized": "personalized"}


def stored_aggregates(members: Members) -> dict[str, Any]:
    """The family's aggregates as FactRollup stores them, keyed "<metric>.<key>": counts as
    the facts give them; a mean (or mean of squares) as the sum of its values, and beside a
    mean its "weight", the count of values it averages."""
    family = members[0][1].family
    out: dict[str, Any] = {}
    for name, fact in members:
        where = fact.where if family else None
        for key, aggregate in fact.aggregates().items():
            filtered = restricted(aggregate, where)
            if key not in MEAN_KEYS:
                out[f"{name}.{key}"] = filtered
                continue
            value = aggregate.get_source_expressions()[0]
            condition = condition_of(filtered)
            out[f"{name}.{key}"] = Sum(Cast(value, FloatField()), filter=condition)
            if key == "mean":
                out[f"{name}.{WEIGHT}"] = Count(value, filter=condition)
    return out


def schema(members: Members) -> str:
    """A fingerprint of what the family's rollup holds and how it was computed: a rollup
    with another fingerprint (older code, another time zone) is not read."""
    described = {
        # A list: the order is the columns' (a0, a1, ...).
        "aggregates": [[key, repr(value)] for key, value in stored_aggregates(members).items()],
        "dimensions": sorted(members[0][1].dimension_paths.items()),
        "time_field": members[0][1].time_field,
        "time_zone": settings.TIME_ZONE,
    }
    if family_key(members) == resolution_histogram.FAMILY:
        # The family's days also hold the resolution-time histogram of the median.
        described["histogram"] = resolution_histogram.describe()
    text = json.dumps(described, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --- Building -------------------------------------------------------------------------------


def columns(members: Members) -> dict[str, str]:
    """The FactRollup column of each stored aggregate of the family, in order."""
    keys = list(stored_aggregates(members))
    if len(keys) > ROLLUP_AGGREGATES:
        raise ImproperlyConfigured(
            f"{family_key(members)} has {len(keys)} aggregates; FactRollup holds "
            f"{ROLLUP_AGGREGATES}: add columns (a migration) and raise ROLLUP_AGGREGATES."
        )
    return {key: f"a{i}" for i, key in enumerate(keys)}


def compute(family: str, first: dt.date, last: dt.date) -> list[FactRollup]:
    """The family's rollup rows of the days, unsaved: one query grouped by local day and the
    family's dimensions over the same rows the dashboard reads (the family's `base`)."""
    members = families()[family]
    fact = members[0][1]
    aggregates = stored_aggregates(members)
    names = columns(members)
    paths = dict(fact.dimension_paths)
    zone = timezone.get_default_timezone()
    rows = (
        family_rows(members)(MetricFilters(period=Period(first, last)))
        .annotate(_day=TruncDate(fact.time_field, tzinfo=zone))
        .values("_day", *paths.values())
        .annotate(**{names[key]: aggregate for key, aggregate in aggregates.items()})
        .order_by()
    )
    return [
        FactRollup(
            family=family,
            day=as_day(row["_day"]),
            **{COLUMNS[dimension]: row[path] for dimension, path in paths.items()},
            **{names[key]: row[names[key]] for key in aggregates},
        )
        for row in rows
    ]


def store(
    family: str,
    rows: list[FactRollup],
    versions: Mapping[dt.date, int],
    histogram: list[ResolutionTimeRollup] | None = None,
) -> None:
    """Replace the rows of the days of `versions` (and their resolution-time histogram, for
    its family) and mark each covered by the version read before its facts were: one
    transaction. A bump since then leaves the day uncovered."""
    with transaction.atomic():
        FactRollup.objects.filter(family=family, day__in=list(versions)).delete()
        FactRollup.objects.bulk_create(rows, batch_size=1000)
        if histogram is not None:
            resolution_histogram.replace(versions, histogram)
        mark_covered(family, versions, schema(families()[family]))


def roll_up(family: str, first: dt.date, last: dt.date) -> int:
    """Roll up `family` for the days `first` to `last`: the versions, then the facts, then
    the rows and markers. Returns the number of rows written."""
    versions = read_versions(family, first, last)
    rows = compute(family, first, last)
    histogram = (
        resolution_histogram.compute(first, last) if family == resolution_histogram.FAMILY else None
    )
    store(family, rows, versions, histogram)
    return len(rows)


def roll_up_due(*, on: dt.date) -> dict[str, int]:
    """Roll up every family for every uncovered day from its first fact up to `RECENT_DAYS`
    before `on` (never later than today allows), in batches of `BATCH_DAYS` days, and the
    customer days of the purchase summary (metrics.customer_rollup); returns the days rolled
    per family. Idempotent: covered days are left alone."""
    last = last_rollable_day(on)
    summary: dict[str, int] = {}
    for family, members in families().items():
        fact = members[0][1]
        earliest = (
            family_rows(members)(MetricFilters(period=Period(EARLIEST_DAY, last)))
            .order_by()
            .aggregate(first=Min(fact.time_field))["first"]
        )
        summary[family] = 0
        if earliest is None:
            continue
        first = as_day(earliest)
        covered = covered_days({family: schema(members)}, first, last)[family]
        missing = [day for day in days_from(first, last) if day not in covered]
        for start, end in runs(missing, longest=BATCH_DAYS):
            roll_up(family, start, end)
            summary[family] += (end - start).days + 1
    summary[customer_rollup.FAMILY] = customer_rollup.roll_up_due(
        on=on, window_days=churn_inactivity_days()
    )
    return summary


# --- Reading --------------------------------------------------------------------------------


def applies(members: Members, filters: MetricFilters) -> bool:
    """Whether the rollup answers the family under these slices: a category or segment slice
    that applies to the family is not a rollup dimension; channel and operator are, where the
    family filters on the very dimension it groups by. The personalised flag is applied to
    the groups by GroupedFacts either way."""
    fact = members[0][1]
    slices = {
        "channel": filters.channel or None,
        "operator": filters.operator_id,
        "category": filters.category_id,
        "segment": filters.segment or None,
    }
    for name, value in slices.items():
        if value is None or name not in fact.filter_paths:
            continue
        if name not in COLUMNS or fact.filter_paths[name] != fact.dimension_paths.get(name):
            return False
    return True


def _slice(members: Members, filters: MetricFilters) -> Q:
    fact = members[0][1]
    condition = Q()
    if filters.channel and "channel" in fact.filter_paths:
        condition &= Q(channel=filters.channel)
    if filters.operator_id is not None and "operator" in fact.filter_paths:
        condition &= Q(operator_id=filters.operator_id)
    return condition


def facts_outside(time_field: str, covered: set[dt.date], span: Period) -> Q | None:
    """The facts of the span's days that are not covered, as half-open time ranges (index
    friendly); None when no day of the span is covered (no restriction needed)."""
    outside = uncovered_runs(covered, span)
    return None if outside is None else times_in(time_field, outside)


def uncovered_runs(covered: set[dt.date], span: Period) -> list[tuple[dt.date, dt.date]] | None:
    """The span's days that are not covered, as runs of days; None when no day of the span
    is covered."""
    inside = {day for day in covered if span.start <= day <= span.end}
    if not inside:
        return None
    return runs(day for day in days_from(span.start, span.end) if day not in inside)


def times_in(time_field: str, day_runs: list[tuple[dt.date, dt.date]]) -> Q:
    """The facts whose time falls in the runs of days, as half-open time ranges (index
    friendly); no fact for no run."""
    condition = Q(pk__in=[]) if not day_runs else Q()
    for first, last in day_runs:
        condition |= Q(
            **{
                f"{time_field}__gte": site_day_start(first),
                f"{time_field}__lt": site_day_start(last + dt.timedelta(days=1)),
            }
        )
    return condition


def read(
    members: Members, filters: MetricFilters, periods: list[Period], covered: set[dt.date]
) -> list[dict[str, Any]]:
    """The family's rows over the covered days, shaped as GroupedFacts reads them from the
    facts: the dimension paths, and per period and member `p{j}_m{index}_{key}` (counts,
    means, mean squares, weights). One query grouped by the dimensions, each column summed
    per period (SUM ... FILTER)."""
    fact = members[0][1]
    span = span_of(periods)
    covered_runs = runs(day for day in covered if span.start <= day <= span.end)
    if not covered_runs:
        return []
    stored = columns(members)
    paths = dict(fact.dimension_paths)
    groups = [COLUMNS[dimension] for dimension in paths]
    family = family_key(members)
    sliced = _slice(members, filters)

    def grouped(*days: dt.date) -> QuerySet[Any]:
        # The periods' first and last days, then the covered runs' (first, last).
        bounds = list(zip(days[::2], days[1::2], strict=True))
        sums = {
            f"p{j}_{column}": Sum(column, filter=Q(day__gte=first, day__lte=last))
            for j, (first, last) in enumerate(bounds[: len(periods)])
            for column in stored.values()
        }
        return (
            FactRollup.objects.filter(days_in(bounds[len(periods) :]), sliced, family=family)
            .values(*groups)
            .annotate(**sums)
            .order_by()
        )

    # Built and compiled once per process and shape (the family, the number of periods and
    # of covered runs, the slice): a family's dozens of filtered sums cost the ORM more
    # than the database spends adding up a year of rollup rows.
    days = [day for period in periods for day in (period.start, period.end)]
    days += [day for run in covered_runs for day in run]
    shape = (family, len(periods), len(covered_runs), filters.channel, filters.operator_id)
    out = []
    for row in fixed_rows("metrics rollup", grouped, key=shape, values=tuple(days)):
        shaped = {path: row[column] for path, column in zip(paths.values(), groups, strict=True)}
        for j in range(len(periods)):
            totals = {key: row[f"p{j}_{column}"] or 0.0 for key, column in stored.items()}
            for index, (name, member) in enumerate(members):
                prefix = f"p{j}_m{index}_"
                weight = totals.get(f"{name}.{WEIGHT}", 0.0)
                for key in member.aggregates():
                    total = totals[f"{name}.{key}"]
                    if key in MEAN_KEYS:
                        shaped[prefix + key] = total / weight if weight else None
                    else:
                        shaped[prefix + key] = round(total)
                    if key == "mean":
                        shaped[prefix + WEIGHT] = round(weight)
        out.append(shaped)
    return out
