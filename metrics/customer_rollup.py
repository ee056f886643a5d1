"""The customer-base metrics from a few rows a day: the per-customer-day summary rolled up.

`metrics.PurchaseDay` has one row per customer and purchase day. Counting its rows in ranges
answers churn, retention, repeat purchases and historical CLV without grouping by customer,
but still reads one row per customer-day of the window (millions at five million purchases).
Every one of those figures is a sum over *points*, so it can be read from counts of points
per day instead:

- a day point per customer-day (y = its day), with the day's revenue and so on;
- a pair point per customer-day with a previous purchase day (x = that day, y = its day);
- a triple point per customer-day with a purchase day before the previous one (x = that
  one, y = its day).

With `orders(a, b)` the day points in [a, b) and `pairs(a, b)` the pair points with
a <= x and y < b (both days inside), a customer with k purchase days in [a, b) has k day
points there, k - 1 pairs and k - 2 triples inside it (none below zero), so:

- buyers of [a, b) = orders(a, b) - pairs(a, b);
- repeat buyers of [s, e) = pairs(s, e) - triples(s, e) (1 for k >= 2, else 0);
- customers at an instant t (bought within the window W before it) = buyers of [t - W, t);
- lost in [s, e) (a customer at s with no purchase in [e - W, e)), for periods no longer than
  W = buyers of X = [s - W, e - W) minus the pair points with x in X and y in [e - W, e):
  a customer buying on both sides of e - W has exactly one pair across it; for longer ones
  (up to a year and a day, `purchase_days.longest_period_days`) = buyers of [s - W, s) minus
  the pair points from there into [e - W, e), less those who bought in [s, e - W) and again
  in [e - W, e) (`purchase_days.corrections`, from the rows);
- a subscription that ended unrenewed (lost, and not at the end) is a correction from the
  rows too: no point tells the latest subscription end before an instant;
- new = day points with no previous day; revenue and cost: sums of day points;
- historical CLV at e: customers with a first day before e, the revenue before e, and the sum
  of squares of revenue to date, summed as each day's increase of the square.

None of these points changes when a customer buys again later: adding a purchase day adds
points, so today's purchases leave every rolled-up day as it is. `PurchaseDayRollup` holds,
per day, the day's totals and the counts of pair and triple points by x; pair and triple
points further back than any figure compares (x before the batch's first day less
`reach_days`) are left out. The nightly `rollups` job writes the rows of each day not yet covered
(`FactRollupDay`, family "customer_days", with the race argument of `metrics.rollup_days`);
`metrics.purchase_days_upkeep.rebuild()` bumps the days whose points it changed. The figures add the
rolled-up days and read the others (today, yesterday, days written since) from `PurchaseDay`
with the same sums, so both give the same totals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, FloatField, IntegerField, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast

from core.dates import site_today
from customers.selectors import fixed_rows
from metrics import purchase_days
from metrics.models import PurchaseDay, PurchaseDayRollup
from metrics.periods import Period
from metrics.rollup_days import (
    BATCH_DAYS,
    covered_days,
    days_from,
    days_in,
    invalidate,
    last_rollable_day,
    mark_covered,
    read_versions,
    runs,
)

FAMILY = "customer_days"
# Bumped whenever what a rolled-up row holds or how it is computed changes: older rows are
# then not read (they carry another fingerprint) and the job rolls the days again.
FORMAT = 1
# The fields of a PurchaseDay row its points depend on: a rebuild that changes none of them
# on a day leaves that day's rollup as it was.
SIGNATURE = (
    "customer_id",
    "day",
    "previous_day",
    "second_previous_day",
    "revenue",
    "costed_revenue",
    "known_cost",
    "revenue_to_date",
    "first_costed",
)
# The totals `metrics.customer_figures` adds up, per period.
TOTALS = (
    "customers",
    "repeaters",
    "orders",
    "new",
    "revenue",
    "revenue_with_cost",
    "cost",
    "at_start",
    "at_end",
    "lost",
    "clv_n",
    "clv_sum",
    "clv_sum_sq",
    "margin_n",
    "margin_sum",
)
LAG_FIELDS = {1: "previous_day", 2: "second_previous_day"}


def reach_days(window_days: int) -> int:
    """How far back an earlier purchase day can matter to a figure: the window and the
    longest period the summary answers, less a day (the lost customers compare days up to a
    period plus a window apart); twice the window when it is a year or more."""
    return window_days + purchase_days.longest_period_days(window_days) - 1


def schema(window_days: int) -> str:
    """The fingerprint of the rollup's rows: a rollup made for another window, time zone or
    format is not read."""
    described = {"format": FORMAT, "reach": reach_days(window_days), "zone": settings.TIME_ZONE}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


# --- The sums, over rolled-up rows or over PurchaseDay rows -----------------------------------


@dataclass(frozen=True)
class _Source:
    """How the points are read from one table: the count of points matching a condition,
    each kind's earlier-day field, and the day totals."""

    rolled_up: bool

    def points(self, lag: int, condition: Q) -> Any:
        if self.rolled_up:
            return Sum("customers", filter=Q(lag=lag) & condition)
        return Count("pk", filter=condition)

    def lag_field(self, lag: int) -> str:
        return "lag_day" if self.rolled_up else LAG_FIELDS[lag]

    def day_totals(self, condition: Q) -> dict[str, Any]:
        """new, revenue (also as a float), revenue_with_cost, cost, margin, revenue_square
        and margin_n of the day points matching `condition`."""
        if self.rolled_up:
            condition = Q(lag=PurchaseDayRollup.Lag.TOTALS) & condition
            return {
                "new": Sum("new", filter=condition),
                "revenue": Sum("revenue", filter=condition),
                "revenue_float": Sum(Cast("revenue", FloatField()), filter=condition),
                "revenue_with_cost": Sum("costed_revenue", filter=condition),
                "cost": Sum("known_cost", filter=condition),
                "margin": Sum(Cast("margin", FloatField()), filter=condition),
                "revenue_square": Sum("revenue_square_increase", filter=condition),
                "margin_n": Sum("first_costed", filter=condition),
            }
        return {
            "new": Count("pk", filter=condition & Q(previous_day__isnull=True)),
            "revenue": Sum("revenue", filter=condition),
            "revenue_float": Sum(Cast("revenue", FloatField()), filter=condition),
            "revenue_with_cost": Sum("costed_revenue", filter=condition),
            "cost": Sum("known_cost", filter=condition),
            "margin": Sum(Cast(_DAY_MARGIN, FloatField()), filter=condition),
            "revenue_square": Sum(_SQUARE_INCREASE, filter=condition),
            "margin_n": Count("pk", filter=condition & Q(first_costed=True)),
        }

    def orders(self, condition: Q) -> Any:
        return self.points(PurchaseDayRollup.Lag.TOTALS, condition)


# A day's margin: the revenue of its lines with a known cost less that cost (none without).
_DAY_MARGIN = F("costed_revenue") - F("known_cost")
# (revenue to date)^2 - (revenue to the day before)^2 = revenue x (2 x to date - revenue).
_SQUARE_INCREASE = Cast(F("revenue") * (2 * F("revenue_to_date") - F("revenue")), FloatField())


def _between(field: str, start: dt.date | None, end: dt.date) -> Q:
    condition = Q(**{f"{field}__lt": end})
    return condition & Q(**{f"{field}__gte": start}) if start is not None else condition


class _Sums:
    """Named aggregates, each asked for once however many periods need it: a key per
    aggregate (`_aggregate` makes it), its dates as they are."""

    def __init__(self) -> None:
        self.names: dict[tuple[Any, ...], str] = {}
        # The names that count earlier-day points (kinds 1 and 2); the rest read day totals.
        self.lagged: set[str] = set()

    def _name(self, key: tuple[Any, ...], *, lagged: bool = False) -> str:
        if key not in self.names:
            self.names[key] = f"q{len(self.names)}"
            if lagged:
                self.lagged.add(self.names[key])
        return self.names[key]

    def orders(self, start: dt.date, end: dt.date) -> str:
        return self._name(("orders", start, end))

    def inside(self, lag: int, start: dt.date, end: dt.date) -> str:
        """Points of the kind with start <= x and y < end (both inside [start, end))."""
        return self._name(("inside", lag, start, end), lagged=True)

    def across(self, x: tuple[dt.date, dt.date], y: tuple[dt.date, dt.date]) -> str:
        """Pair points with x in [x[0], x[1]) and y in [y[0], y[1])."""
        return self._name(("across", x, y), lagged=True)

    def day_total(self, key: str, start: dt.date | None, end: dt.date) -> str:
        return self._name(("total", key, start, end))


def _aggregate(source: _Source, key: tuple[Any, ...]) -> Any:
    """The aggregate a `_Sums` key names, over `source`'s rows."""
    kind = key[0]
    if kind == "orders":
        return source.orders(_between("day", key[1], key[2]))
    if kind == "inside":
        _kind, lag, start, end = key
        field = source.lag_field(lag)
        return source.points(lag, Q(**{f"{field}__gte": start}) & Q(day__lt=end))
    if kind == "across":
        field = source.lag_field(1)
        return source.points(1, _between(field, *key[1]) & _between("day", *key[2]))
    _kind, total, start, end = key
    return source.day_totals(_between("day", start, end))[total]


@dataclass(frozen=True)
class _Day:
    """A date of a `_Sums` key by its place among the keys' dates (`_symbolic`)."""

    place: int


def _symbolic(keys: Iterable[Any]) -> tuple[tuple[Any, ...], list[dt.date]]:
    """The keys with each date replaced by its place among their dates (sorted), and those
    dates: which aggregates a plan has, and which of their dates are the same, without the
    dates themselves."""
    keys = list(keys)
    dates = sorted({part for part in _parts(keys) if isinstance(part, dt.date)})
    places = {day: _Day(i) for i, day in enumerate(dates)}

    def symbol(part: Any) -> Any:
        if isinstance(part, tuple):
            return tuple(symbol(p) for p in part)
        return places[part] if isinstance(part, dt.date) else part

    return tuple(symbol(key) for key in keys), dates


def _real(key: Any, dates: tuple[dt.date, ...]) -> Any:
    """A `_symbolic` key with its dates put back (these dates, by place)."""
    if isinstance(key, tuple):
        return tuple(_real(part, dates) for part in key)
    return dates[key.place] if isinstance(key, _Day) else key


def _parts(value: Any) -> Iterable[Any]:
    if isinstance(value, (tuple, list)):
        for part in value:
            yield from _parts(part)
    else:
        yield value


def _plan(
    sums: _Sums, periods: list[Period], window_days: int
) -> list[dict[str, tuple[tuple[int, str], ...]]]:
    """Per period, each total as a signed combination of named aggregates."""
    window = dt.timedelta(days=window_days)
    plans = []
    for period in periods:
        s, e = period.start, period.end + dt.timedelta(days=1)

        def buyers(start: dt.date, end: dt.date) -> tuple[tuple[int, str], ...]:
            return ((1, sums.orders(start, end)), (-1, sums.inside(1, start, end)))

        def lost(s: dt.date, e: dt.date) -> tuple[tuple[int, str], ...]:
            """At the start (a day in [s - W, s)) and no day in [e - W, e)."""
            if e - window <= s:  # no longer than W: their last day before s is before e - W
                return (
                    *buyers(s - window, e - window),
                    (-1, sums.across((s - window, e - window), (e - window, e))),
                )
            # Longer: at the start less those whose next day after [s - W, s) falls in
            # [e - W, e); those who bought in between too are left to
            # `metrics.purchase_days.corrections` (a point cannot tell).
            return (
                *buyers(s - window, s),
                (-1, sums.across((s - window, s), (e - window, e))),
            )

        plans.append(
            {
                "customers": buyers(s, e),
                "repeaters": ((1, sums.inside(1, s, e)), (-1, sums.inside(2, s, e))),
                "orders": ((1, sums.orders(s, e)),),
                "new": ((1, sums.day_total("new", s, e)),),
                "revenue": ((1, sums.day_total("revenue", s, e)),),
                "revenue_with_cost": ((1, sums.day_total("revenue_with_cost", s, e)),),
                "cost": ((1, sums.day_total("cost", s, e)),),
                "at_start": buyers(s - window, s),
                "at_end": buyers(e - window, e),
                "lost": lost(s, e),
                "clv_n": ((1, sums.day_total("new", None, e)),),
                "clv_sum": ((1, sums.day_total("revenue_float", None, e)),),
                "clv_sum_sq": ((1, sums.day_total("revenue_square", None, e)),),
                "margin_n": ((1, sums.day_total("margin_n", None, e)),),
                "margin_sum": ((1, sums.day_total("margin", None, e)),),
            }
        )
    return plans


def _totals(
    shape: str,
    rows: Callable[[tuple[dt.date, ...]], QuerySet[Any]],
    row_days: list[dt.date],
    source: _Source,
    periods: list[Period],
    window_days: int,
) -> list[dict[str, Any]]:
    """The totals of each period over the rows `rows(row_days)` gives: one query (two over
    rollups), each built and compiled once per process and shape (`shape`, the number of row
    days, and the plan's aggregates with their dates by place): the dates are its inputs.
    Without a `shape` (rows that depend on more than the days), built for this call.
    Building the plan's few dozen filtered aggregates cost the ORM more than a year of
    rollup rows costs PostgreSQL to add up."""
    sums = _Sums()
    plans = _plan(sums, periods, window_days)
    keys, plan_days = _symbolic(sums.names)
    names = list(sums.names.values())
    if source.rolled_up:
        # A rollup has one totals row a day and hundreds of earlier-day rows: in one statement
        # every FILTER clause ran on every row (114 ms of a year's 440 ms of SQL at 200,000
        # customers). Apart, the totals read 729 rows through the (day, lag) index and the
        # earlier-day points only their own five clauses (4.5 + 95 ms).
        parts = {
            "totals": (Q(lag=PurchaseDayRollup.Lag.TOTALS), set(names) - sums.lagged),
            "lagged": (Q(lag__gt=PurchaseDayRollup.Lag.TOTALS), sums.lagged),
        }
    else:
        parts = {"all": (Q(), set(names))}
    count = len(row_days)
    row: dict[str, Any] = {}
    for part, (condition, wanted) in parts.items():
        if not wanted:
            continue

        def aggregated(*days: dt.date, condition: Q = condition, wanted: set[str] = wanted) -> Any:
            aggregates = {
                name: _aggregate(source, _real(key, days[count:]))
                for key, name in zip(keys, names, strict=True)
                if name in wanted
            }
            whole = Value(1, output_field=IntegerField())  # (no GROUP BY: one row)
            return (
                rows(days[:count])
                .filter(condition)
                .values(_whole=whole)
                .annotate(**aggregates)
                .values(*aggregates)
            )

        if shape:
            found = fixed_rows(
                f"customer days: {shape}, {part}",
                aggregated,
                key=(count, keys),
                values=(*row_days, *plan_days),
            )
        else:  # rows of the caller's (a segment's customers): built for this call
            found = list(aggregated(*row_days, *plan_days))
        row |= found[0]
    return [
        {
            key: sum((sign * (row[name] or 0) for sign, name in terms), start=0)
            for key, terms in plan.items()
        }
        for plan in plans
    ]


def add(*parts: tuple[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Signed parts of per-period totals, added up."""
    first = parts[0][1]
    return [
        {key: sum((sign * (part[i][key] or 0) for sign, part in parts), start=0) for key in TOTALS}
        for i in range(len(first))
    ]


def summary_totals(
    rows: QuerySet[PurchaseDay], periods: list[Period], window_days: int
) -> list[dict[str, Any]]:
    """The totals of each period over some PurchaseDay rows (one query)."""
    return _totals("", lambda _days: rows, [], _Source(rolled_up=False), periods, window_days)


def covered_runs(window_days: int, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The rolled-up days before `end` that can be read, as (first, last) runs: one query."""
    days = covered_days({FAMILY: schema(window_days)}, dt.date.min, end - dt.timedelta(days=1))
    return runs(days[FAMILY])


def totals(periods: list[Period], window_days: int) -> list[dict[str, Any]]:
    """The totals of each period for every customer: the rolled-up days from the rollup, the
    other days from the summary (four queries: the rollup's day totals and its earlier-day
    points apart)."""
    end = max(period.end for period in periods) + dt.timedelta(days=1)
    covered = covered_runs(window_days, end)
    # The statements' row inputs: the bounds of the days before `end` outside the covered
    # runs (the first range open below), and the runs' first and last days.
    gaps = _gaps(covered, end)
    summary = _totals(
        "summary",
        lambda days: PurchaseDay.objects.filter(_days_between(_pairs([None, *days]))),
        [day for gap in gaps for day in gap if day is not None],
        _Source(rolled_up=False),
        periods,
        window_days,
    )
    if not covered:
        return summary
    rolled = _totals(
        "rollup",
        lambda days: PurchaseDayRollup.objects.filter(days_in(_pairs(days))),
        [day for run in covered for day in run],
        _Source(rolled_up=True),
        periods,
        window_days,
    )
    return add((1, rolled), (1, summary))


def _gaps(
    runs: list[tuple[dt.date, dt.date]], end: dt.date
) -> list[tuple[dt.date | None, dt.date]]:
    """The days before `end` outside the runs, as [start, stop) ranges, the first one open
    below (start None)."""
    gaps: list[tuple[dt.date | None, dt.date]] = []
    previous: dt.date | None = None
    for first, last in runs:
        if first >= end:
            break
        gaps.append((previous, first))
        previous = last + dt.timedelta(days=1)
    return [*gaps, (previous, end)]


def _days_between(gaps: list[tuple[dt.date | None, dt.date]]) -> Q:
    condition = Q(pk__in=[])
    for start, stop in gaps:
        condition |= _between("day", start, stop)
    return condition


def _pairs(days: Iterable[Any]) -> list[tuple[Any, Any]]:
    days = list(days)
    return list(zip(days[::2], days[1::2], strict=True))


# --- Rolling up -----------------------------------------------------------------------------


def compute(first: dt.date, last: dt.date, window_days: int) -> list[PurchaseDayRollup]:
    """The rollup rows of the days `first` to `last`, unsaved: three grouped queries."""
    rows = PurchaseDay.objects.filter(day__gte=first, day__lte=last)
    reach = first - dt.timedelta(days=reach_days(window_days))
    source = _Source(rolled_up=False)
    # The rows' own days: a condition every row meets, for the FILTER clauses. Prefixed
    # names: an annotation named like a field would shadow it in the other aggregates.
    day_totals = source.day_totals(Q(day__gte=first))
    annotations: dict[str, Any] = {f"t_{key}": day_totals[key] for key in _STORED_TOTALS}
    annotations |= {"t_customers": Count("pk"), "t_day_margin": Sum(_DAY_MARGIN)}
    grouped: QuerySet[Any] = rows.values("day").annotate(**annotations).order_by()
    out = [
        PurchaseDayRollup(
            day=row["day"],
            lag=PurchaseDayRollup.Lag.TOTALS,
            customers=row["t_customers"],
            new=row["t_new"],
            revenue=row["t_revenue"] or 0,
            costed_revenue=row["t_revenue_with_cost"] or 0,
            known_cost=row["t_cost"],
            margin=row["t_day_margin"],
            revenue_square_increase=row["t_revenue_square"] or 0.0,
            first_costed=row["t_margin_n"],
        )
        for row in grouped
    ]
    for lag, field in LAG_FIELDS.items():
        grouped = (
            rows.filter(**{f"{field}__gte": reach})
            .values("day", field)
            .annotate(customers=Count("pk"))
            .order_by()
        )
        out += [
            PurchaseDayRollup(
                day=row["day"], lag=lag, lag_day=row[field], customers=row["customers"]
            )
            for row in grouped
        ]
    return out


_STORED_TOTALS = ("new", "revenue", "revenue_with_cost", "cost", "revenue_square", "margin_n")


def roll_up(first: dt.date, last: dt.date, window_days: int) -> int:
    """Roll up the days `first` to `last`: the versions, then the summary, then the rows and
    markers (the order the race argument of metrics.rollup_days needs). Returns rows written."""
    versions = read_versions(FAMILY, first, last)
    rows = compute(first, last, window_days)
    with transaction.atomic():
        PurchaseDayRollup.objects.filter(day__gte=first, day__lte=last).delete()
        PurchaseDayRollup.objects.bulk_create(rows, batch_size=2000)
        mark_covered(FAMILY, versions, schema(window_days))
    return len(rows)


def roll_up_due(*, on: dt.date, window_days: int) -> int:
    """Roll up every day not covered from the first purchase day up to two days before `on`
    (as metrics.rollups does), while the summary is current; returns the days rolled."""
    if not purchase_days.is_current():
        return 0  # the summary is rebuilt first (the purchase_days job), then rolled up
    earliest = earliest_day()
    last = last_rollable_day(on)
    if earliest is None or earliest > last:
        return 0
    covered = covered_days({FAMILY: schema(window_days)}, earliest, last)[FAMILY]
    missing = [day for day in days_from(earliest, last) if day not in covered]
    for start, end in runs(missing, longest=BATCH_DAYS):
        roll_up(start, end, window_days)
    return len(missing)


# --- What uncovers a day ----------------------------------------------------------------------


def signatures(customer_ids: list[int]) -> set[tuple[Any, ...]]:
    """The rows of these customers as far as their points go (SIGNATURE)."""
    return set(PurchaseDay.objects.filter(customer_id__in=customer_ids).values_list(*SIGNATURE))


def invalidate_changed(before: set[tuple[Any, ...]], after: set[tuple[Any, ...]]) -> int:
    """Bump the days of the rows that a rebuild added, removed or changed."""
    day = SIGNATURE.index("day")
    return invalidate_days({row[day] for row in before ^ after})


def invalidate_days(days: Iterable[dt.date]) -> int:
    """Bump these days' markers (inside the writer's transaction; today is skipped)."""
    return invalidate((FAMILY, day) for day in days)


def invalidate_from(first: dt.date | None) -> int:
    """Bump every day from `first` to yesterday: after the whole summary was rebuilt."""
    if first is None:
        return 0
    today = site_today()
    days = (today - first).days
    return invalidate_days(first + dt.timedelta(days=i) for i in range(max(days, 0)))


def earliest_day() -> dt.date | None:
    return PurchaseDay.objects.aggregate(first=Min("day"))["first"]
