"""Daily rollups of the fact metrics, so that the dashboard's cost follows days, not facts.

For every family of fact metrics (the metrics that read the same rows: "responses",
"tickets_created", "tickets_resolved", "inbound", and the offers and interests on their own)
`FactRollup` holds, per local day (settings.TIME_ZONE, as `metrics.filters.Period`) and per
group of the family's dimensions (channel, operator, personalised flag), the family's
aggregates as additive quantities: counts, and for means the sums beside their counts. The
dashboard (`GroupedFacts`) adds up the rows of the days that are covered and reads only the
other days (today, yesterday, days written to since the last run) from the facts.

When a day is covered (`FactRollupDay`): its `rolled_version` equals its `version` and its
`schema` is the current fingerprint of the family's aggregates (keys, expressions, dimensions
and time zone), so that a rollup made by older code is never read as complete.

Why a write is never lost (the race argument). Every write that can change a family's
aggregates on a past day bumps that day's `version` with an upsert (the row is created if
missing) inside the writer's transaction (`invalidate`). The job reads the version *before*
it reads the facts, and afterwards stores that version as `rolled_version`, never touching
`version` itself. A write the job's fact query did not see committed after that query began,
so its bump became visible after the job read the version: the final version is larger than
the stored `rolled_version` whether the bump lands before or after the job's upsert (which
waits for the writer's row lock or unique-key insert), and the day stays uncovered until the
next run. Writes to today bump nothing, and the job never rolls up the latest `RECENT_DAYS`
days (today and yesterday): a writer that decided "today" just before midnight is overtaken
only by a job that starts a whole day later, while the writer's transaction is still open.
That keeps today's writes, the busiest, free of any extra statement and of a hot row that
every writer would lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.db.models import Count, FloatField, Min, Q, QuerySet, Sum
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.dates import site_day, site_day_start, site_today
from metrics import customer_rollup
from metrics.calculations import (
    METRICS,
    WEIGHT,
    FactMetric,
    _as_day,
    _filtered,
    churn_inactivity_days,
)
from metrics.filters import MetricFilters, Period
from metrics.models import ROLLUP_AGGREGATES, FactRollup, FactRollupDay

Members = list[tuple[str, FactMetric]]

# Today is still changing, and yesterday may still receive writes that decided "today" before
# midnight and bumped nothing (module docstring): neither is rolled up, both come from facts.
RECENT_DAYS = 2
# Days per grouped query when rolling up: bounds the rows held in memory at once.
BATCH_DAYS = 31
# The first day the job looks for facts from; no fact of this CRM is older.
EARLIEST_DAY = dt.date(1970, 1, 1)
# Where each dimension of a family is kept in FactRollup.
COLUMNS = {"channel": "channel", "operator": "operator_id", "personalized": "personalized"}
MEANS = ("mean", "mean_sq")
# Rows per upsert statement of the invalidation (well below SQLite's parameter limit).
INVALIDATE_CHUNK = 300


# --- Families -------------------------------------------------------------------------------


def families() -> dict[str, Members]:
    """Every family of fact metrics by its key (the family, or the metric's own name)."""
    grouped: dict[str, Members] = defaultdict(list)
    for name, definition in METRICS.items():
        if definition.fact is not None:
            grouped[definition.fact.family or name].append((name, definition.fact))
    return dict(grouped)


def family_key(members: Members) -> str:
    name, fact = members[0]
    return fact.family or name


def _base(members: Members) -> Any:
    first = members[0][1]
    return first.base if first.family and first.base is not None else first.source


def stored_aggregates(members: Members) -> dict[str, Any]:
    """The family's aggregates as FactRollup stores them, keyed "<metric>.<key>": counts as
    the facts give them; a mean (or mean of squares) as the sum of its values, and beside a
    mean its "weight", the count of values it averages."""
    family = members[0][1].family
    out: dict[str, Any] = {}
    for name, fact in members:
        where = fact.where if family else None
        for key, aggregate in fact.aggregates().items():
            restricted = _filtered(aggregate, where)
            if key not in MEANS:
                out[f"{name}.{key}"] = restricted
                continue
            value = aggregate.get_source_expressions()[0]
            condition = restricted.filter.condition if restricted.filter is not None else None
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


def read_versions(family: str, first: dt.date, last: dt.date) -> dict[dt.date, int]:
    """The markers' versions of the days (0 where none): read before the facts (docstring)."""
    rows = FactRollupDay.objects.filter(family=family, day__gte=first, day__lte=last)
    versions = dict(rows.values_list("day", "version"))
    return {day: versions.get(day, 0) for day in _days_from(first, last)}


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
        _base(members)(MetricFilters(period=Period(first, last)))
        .annotate(_day=TruncDate(fact.time_field, tzinfo=zone))
        .values("_day", *paths.values())
        .annotate(**{names[key]: aggregate for key, aggregate in aggregates.items()})
        .order_by()
    )
    return [
        FactRollup(
            family=family,
            day=_as_day(row["_day"]),
            **{COLUMNS[dimension]: row[path] for dimension, path in paths.items()},
            **{names[key]: row[names[key]] for key in aggregates},
        )
        for row in rows
    ]


def store(family: str, rows: list[FactRollup], versions: Mapping[dt.date, int]) -> None:
    """Replace the rows of the days of `versions` and mark each covered by the version read
    before its facts were: one transaction. A bump since then leaves the day uncovered."""
    with transaction.atomic():
        FactRollup.objects.filter(family=family, day__in=list(versions)).delete()
        FactRollup.objects.bulk_create(rows, batch_size=1000)
        mark_covered(family, versions, schema(families()[family]))


def mark_covered(family: str, versions: Mapping[dt.date, int], fingerprint: str) -> None:
    """Mark each day covered by the version read before its facts were, with the rollup's
    fingerprint (upserts; call in the transaction that writes the day's rows)."""
    now = timezone.now()
    FactRollupDay.objects.bulk_create(
        [
            FactRollupDay(
                family=family,
                day=day,
                version=version,
                rolled_version=version,
                schema=fingerprint,
                rolled_at=now,
            )
            for day, version in versions.items()
        ],
        update_conflicts=True,
        unique_fields=["family", "day"],
        # Never `version`: a bump that came in meanwhile must survive (docstring).
        update_fields=["rolled_version", "schema", "rolled_at"],
    )


def roll_up(family: str, first: dt.date, last: dt.date) -> int:
    """Roll up `family` for the days `first` to `last`: the versions, then the facts, then
    the rows and markers. Returns the number of rows written."""
    versions = read_versions(family, first, last)
    rows = compute(family, first, last)
    store(family, rows, versions)
    return len(rows)


def _days_from(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _runs(days: Iterable[dt.date], *, longest: int | None = None) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) ranges, each at most `longest` days long."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs:
            first, last = runs[-1]
            fits = longest is None or (day - first).days < longest
            if day == last + dt.timedelta(days=1) and fits:
                runs[-1] = (first, day)
                continue
        runs.append((day, day))
    return runs


def covered_days(
    family_schemas: Mapping[str, str], first: dt.date, last: dt.date
) -> dict[str, set[dt.date]]:
    """The days from `first` to `last` whose rollup can be read, per family: one query."""
    rows = FactRollupDay.objects.filter(
        family__in=list(family_schemas), day__gte=first, day__lte=last
    ).values_list("family", "day", "version", "rolled_version", "schema")
    covered: dict[str, set[dt.date]] = {family: set() for family in family_schemas}
    for family, day, version, rolled_version, fingerprint in rows:
        if rolled_version == version and fingerprint == family_schemas[family]:
            covered[family].add(day)
    return covered


def roll_up_due(*, on: dt.date) -> dict[str, int]:
    """Roll up every family for every uncovered day from its first fact up to `RECENT_DAYS`
    before `on` (never later than today allows), in batches of `BATCH_DAYS` days, and the
    customer days of the purchase summary (metrics.customer_rollup); returns the days rolled
    per family. Idempotent: covered days are left alone."""
    last = min(on, site_today()) - dt.timedelta(days=RECENT_DAYS)
    summary: dict[str, int] = {}
    for family, members in families().items():
        fact = members[0][1]
        earliest = (
            _base(members)(MetricFilters(period=Period(EARLIEST_DAY, last)))
            .order_by()
            .aggregate(first=Min(fact.time_field))["first"]
        )
        summary[family] = 0
        if earliest is None:
            continue
        first = _as_day(earliest)
        covered = covered_days({family: schema(members)}, first, last)[family]
        missing = [day for day in _days_from(first, last) if day not in covered]
        for start, end in _runs(missing, longest=BATCH_DAYS):
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


def _days_in(runs: list[tuple[dt.date, dt.date]]) -> Q:
    condition = Q()
    for first, last in runs:
        condition |= Q(day__gte=first, day__lte=last)
    return condition


def facts_outside(time_field: str, covered: set[dt.date], span: Period) -> Q | None:
    """The facts of the span's days that are not covered, as half-open time ranges (index
    friendly); None when no day of the span is covered (no restriction needed)."""
    inside = {day for day in covered if span.start <= day <= span.end}
    if not inside:
        return None
    condition = Q()
    for first, last in _runs(day for day in _days_from(span.start, span.end) if day not in inside):
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
    span = Period(min(p.start for p in periods), max(p.end for p in periods))
    runs = _runs(day for day in covered if span.start <= day <= span.end)
    if not runs:
        return []
    stored = columns(members)
    sums = {
        f"p{j}_{column}": Sum(column, filter=Q(day__gte=period.start, day__lte=period.end))
        for j, period in enumerate(periods)
        for column in stored.values()
    }
    paths = dict(fact.dimension_paths)
    groups = [COLUMNS[dimension] for dimension in paths]
    queryset: QuerySet[Any] = FactRollup.objects.filter(
        _days_in(runs), _slice(members, filters), family=family_key(members)
    )
    out = []
    for row in queryset.values(*groups).annotate(**sums).order_by():
        shaped = {path: row[column] for path, column in zip(paths.values(), groups, strict=True)}
        for j in range(len(periods)):
            totals = {key: row[f"p{j}_{column}"] or 0.0 for key, column in stored.items()}
            for index, (name, member) in enumerate(members):
                prefix = f"p{j}_m{index}_"
                weight = totals.get(f"{name}.{WEIGHT}", 0.0)
                for key in member.aggregates():
                    total = totals[f"{name}.{key}"]
                    if key in MEANS:
                        shaped[prefix + key] = total / weight if weight else None
                    else:
                        shaped[prefix + key] = round(total)
                    if key == "mean":
                        shaped[prefix + WEIGHT] = round(weight)
        out.append(shaped)
    return out


# --- Invalidation ---------------------------------------------------------------------------


def local_day(value: Any) -> dt.date | None:
    """The site-local day of a stored instant (None for none)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, dt.datetime):
        return None
    return site_day(value)


def invalidate(pairs: Iterable[tuple[str, dt.date | None]], *, using: str = "default") -> int:
    """Bump the version of each (family, day) before today, creating the marker where missing
    (so that a rollup job running now cannot mark the day covered without this write); call
    it inside the writer's transaction. Returns the days bumped.

    Today is skipped: the job rolls up nothing later than `RECENT_DAYS` (two) days ago, so a
    write that found "today" here is rolled up only by a job starting a day after it."""
    today = site_today()
    keys = sorted({(family, day) for family, day in pairs if day is not None and day < today})
    if not keys:
        return 0
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(FactRollupDay._meta.db_table)
    family, day, version, fingerprint = (quote(c) for c in ("family", "day", "version", "schema"))
    # Sorted keys: concurrent writers lock the marker rows in one order (no deadlock).
    with connection.cursor() as cursor:
        for start in range(0, len(keys), INVALIDATE_CHUNK):
            chunk = keys[start : start + INVALIDATE_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({family}, {day}, {version}, {fingerprint}) VALUES "
                + ", ".join(["(%s, %s, 1, '')"] * len(chunk))
                + f" ON CONFLICT ({family}, {day}) DO UPDATE SET {version} = {table}.{version} + 1",
                [value for key in chunk for value in key],
            )
    return len(keys)
