"""The median resolution time from a daily histogram of resolution times: only the tickets of
the bucket that holds the middle are read, in order.

A median does not add up from days the way a count does, so the median resolution time of a
year sorted every ticket resolved in it, three times (the period and the personalised and
other cohorts): 277 ms of the dashboard's year at a million customers (435,672 tickets),
growing with them. But *where* the middle lies does add up. `ResolutionTimeRollup` counts the
tickets resolved on each local day by resolution time, in buckets whose edges (`EDGES`, in
seconds) grow by a fixed factor; added over the period's days (and the tickets of the days
no rollup covers), the counts say which bucket holds the middle ticket and how many tickets
lie below it. That bucket's tickets are then read in order of their resolution time
through `tickets.ticket_resolution_time_idx`, skipping to the middle one: a few hundred
index entries instead of a sort of the period.

The answer is the same figure as PostgreSQL's `percentile_cont(0.5)` (the definitions'
`median_periods`, which stays the way for what the histogram does not hold: a channel,
operator, category or segment slice, a period no rollup covers any day of, or too many
uncovered tickets). The rows are written by the nightly `rollups` job with the
"tickets_resolved" family's own rollup of the same day, in the same transaction, and read
under that family's day markers (`metrics.rollup_days`): every ticket write that uncovers
the family's day (creation or resolution time, the personalised flag) uncovers these too.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Q, QuerySet, Sum, Value
from django.utils import timezone

from core.expressions import SecondsBetween
from metrics import stats
from metrics.definitions.base import SECONDS_PER_HOUR, in_range, span_of
from metrics.expressions import WidthBucket
from metrics.models import ResolutionTimeRollup
from metrics.periods import MetricFilters, Period
from metrics.registry import families, family_rows
from metrics.rollup_days import days_in, runs
from metrics.stats import Estimate

FAMILY = "tickets_resolved"
# Bucket edges in seconds: 16 to each factor of e (a bucket is 6.5 % wider than the one
# below it), from 0.06 s to 15 years; bucket b holds EDGES[b - 1] <= seconds < EDGES[b].
EDGES: tuple[float, ...] = tuple(math.expm1(i / 16) for i in range(1, 321))
# Bumped when what a row holds or how it is computed changes (part of the family's schema).
FORMAT = 1
# Where the database cannot count the uncovered days' tickets per bucket (SQLite), they are
# counted here; beyond this many the sort is as cheap.
MOST_UNCOVERED = 20_000


def describe() -> dict[str, Any]:
    """What the rows hold, for the family's schema fingerprint (metrics.rollups.schema)."""
    return {"format": FORMAT, "edges": [len(EDGES), EDGES[0], EDGES[-1]]}


def bucket_of(seconds: float) -> int:
    """The bucket of a resolution time: how many edges lie at or below it."""
    return bisect.bisect_right(EDGES, seconds)


def _seconds() -> SecondsBetween:
    # The expression of tickets.ticket_resolution_time_idx and of the definitions' medians.
    return SecondsBetween(F("created_at"), F("resolved_at"))


def _resolved(filters: MetricFilters) -> QuerySet[Any]:
    """The tickets the family (and the median) reads: resolved within the filters' period."""
    return family_rows(families()[FAMILY])(filters)


# --- Writing (the rollups job) --------------------------------------------------------------


def compute(first: dt.date, last: dt.date) -> list[ResolutionTimeRollup]:
    """The rows of the days `first` to `last`, unsaved (the tickets read once, in chunks)."""
    zone = timezone.get_default_timezone()
    counts: Counter[tuple[dt.date, bool, int]] = Counter()
    tickets = (
        _resolved(MetricFilters(period=Period(first, last)))
        .annotate(_seconds=_seconds())
        .values_list("resolved_at", "personalized", "_seconds")
        .order_by()
    )
    for resolved_at, personalized, seconds in tickets.iterator(chunk_size=5000):
        day = timezone.localtime(resolved_at, zone).date()
        counts[(day, bool(personalized), bucket_of(seconds))] += 1
    return [
        ResolutionTimeRollup(day=day, personalized=flag, bucket=bucket, tickets=n)
        for (day, flag, bucket), n in sorted(counts.items())
    ]


def replace(days: Iterable[dt.date], rows: list[ResolutionTimeRollup]) -> None:
    """The days' rows replaced by `rows` (in the caller's transaction)."""
    ResolutionTimeRollup.objects.filter(day__in=list(days)).delete()
    ResolutionTimeRollup.objects.bulk_create(rows, batch_size=1000)


# --- Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """Tickets whose median is asked: resolved within the period, of one flag (or both)."""

    key: str
    period: Period
    flag: bool | None
    start_at: dt.datetime
    end_before: dt.datetime

    @classmethod
    def of(cls, key: str, period: Period, flag: bool | None) -> _Group:
        return cls(key, period, flag, period.start_at, period.end_before)

    def condition(self) -> Q:
        found = in_range("resolved_at", self.start_at, self.end_before)
        return found & Q(personalized=self.flag) if self.flag is not None else found

    def holds(self, resolved_at: dt.datetime, personalized: bool) -> bool:
        return self.start_at <= resolved_at < self.end_before and (
            self.flag is None or personalized == self.flag
        )


def applies(filters: MetricFilters) -> bool:
    """Whether the histogram holds the tickets of these slices: by time and flag only."""
    return not (
        filters.channel
        or filters.operator_id is not None
        or filters.category_id is not None
        or filters.segment
    )


def medians(
    filters: MetricFilters,
    periods: list[Period],
    covered: set[dt.date],
    outside: Q | None,
    *,
    cohorts: bool,
) -> tuple[list[Estimate], dict[Any, Estimate]] | None:
    """`definitions.tickets.median_periods` from the histogram: the median resolution time
    of each period (of the filters' flag), and of the first by the flag when `cohorts`.

    `covered` are the days whose rollup can be read, `outside` the uncovered times of the
    span (`metrics.rollups.facts_outside`). None when the histogram cannot answer.
    """
    span = span_of(periods)
    inside = [day for day in covered if span.start <= day <= span.end]
    if not applies(filters) or not inside:
        return None
    groups = [_Group.of(f"p{j}", period, filters.personalized) for j, period in enumerate(periods)]
    if cohorts:
        groups += [_Group.of("yes", periods[0], True), _Group.of("no", periods[0], False)]
    with _one_snapshot():
        counts = _rolled_up(groups, runs(inside))
        whole = len(inside) >= span.days  # (`outside` then matches no fact)
        if not whole and not _add_uncovered(counts, groups, filters, span, outside):
            return None
        found = _medians_of(groups, counts, filters, span)
        if found is None:
            return None
    split = {flag: found[key] for flag, key in ((True, "yes"), (False, "no")) if key in found}
    return (
        [found[f"p{j}"] for j in range(len(periods))],
        {flag: estimate for flag, estimate in split.items() if estimate.has_data},
    )


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """The counts and the tickets read from one snapshot of the database where a request is
    not in a transaction already (PostgreSQL: REPEATABLE READ), so the middle ticket's
    rank among the bucket's tickets is the one the counts gave."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _rolled_up(
    groups: list[_Group], covered: list[tuple[dt.date, dt.date]]
) -> dict[str, Counter[int]]:
    """Each group's tickets per bucket over the covered days: one query."""
    sums = {}
    for group in groups:
        condition = Q(day__gte=group.period.start, day__lte=group.period.end)
        if group.flag is not None:
            condition &= Q(personalized=group.flag)
        sums[group.key] = Sum("tickets", filter=condition)
    rows: Any = (
        ResolutionTimeRollup.objects.filter(days_in(covered))
        .values("bucket")
        .annotate(**sums)
        .order_by()
    )
    counts: dict[str, Counter[int]] = {group.key: Counter() for group in groups}
    for row in rows:
        for group in groups:
            if row[group.key]:
                counts[group.key][row["bucket"]] += row[group.key]
    return counts


def _add_uncovered(
    counts: dict[str, Counter[int]],
    groups: list[_Group],
    filters: MetricFilters,
    span: Period,
    outside: Q | None,
) -> bool:
    """Add the tickets of the span's uncovered days (today, yesterday, days written to since
    the job ran) to the counts: counted per bucket by PostgreSQL (one grouped query), read
    and counted here elsewhere. False when there are too many to count here."""
    if outside is None:
        return True
    tickets = (
        _resolved(filters.with_period(span).with_personalized(None))
        .filter(outside)
        .annotate(_seconds=_seconds())
        .order_by()
    )
    if connection.vendor == "postgresql":
        per_group = {
            # (resolved_at: a column the covers hold, never null here)
            group.key: Count("resolved_at", filter=group.condition())
            for group in groups
        }
        rows: Any = (
            tickets.annotate(_bucket=WidthBucket(F("_seconds"), EDGES))
            .values("_bucket")
            .annotate(**per_group)
        )
        for row in rows:
            for group in groups:
                if row[group.key]:
                    counts[group.key][row["_bucket"]] += row[group.key]
        return True
    found = list(
        tickets.values_list("resolved_at", "personalized", "_seconds")[: MOST_UNCOVERED + 1]
    )
    if len(found) > MOST_UNCOVERED:
        return False
    for resolved_at, personalized, seconds in found:
        bucket = bucket_of(seconds)
        for group in groups:
            if group.holds(resolved_at, personalized):
                counts[group.key][bucket] += 1
    return True


@dataclass(frozen=True)
class _Read:
    """The tickets of one bucket of a group, the `first`-th to the `last`-th in order of time
    (1-based, within the bucket), and the ranks in the group they stand for."""

    group: _Group
    bucket: int
    first: int
    last: int
    ranks: tuple[tuple[int, int], ...]  # (rank in the group, place in the bucket)


def _middle_ranks(n: int) -> tuple[int, int]:
    """The 1-based ranks of the middle one or two of n (percentile_cont: 0.5 * (n - 1))."""
    return (n - 1) // 2 + 1, n // 2 + 1


def _reads_of(group: _Group, counts: Counter[int]) -> list[_Read]:
    """Which tickets of which buckets hold the group's middle one or two."""
    n = sum(counts.values())
    if not n:
        return []
    remaining = sorted(set(_middle_ranks(n)))
    wanted: dict[int, list[tuple[int, int]]] = {}
    below = 0
    for bucket in sorted(counts):
        while remaining and remaining[0] <= below + counts[bucket]:
            rank = remaining.pop(0)
            wanted.setdefault(bucket, []).append((rank, rank - below))
        below += counts[bucket]
    return [
        _Read(group, bucket, places[0][1], places[-1][1], tuple(places))
        for bucket, places in wanted.items()
    ]


def _read_all(
    reads: list[_Read], filters: MetricFilters, span: Period
) -> dict[int, list[float]] | None:
    """Each read's resolution times in order, by its index: one statement on PostgreSQL
    (each read a LIMIT ... OFFSET over the index, UNION ALL), one per read elsewhere (SQLite
    cannot order the parts of a compound statement). None when a bucket holds fewer
    tickets than its counts said."""
    parts = []
    for index, read in enumerate(reads):
        tickets = (
            _resolved(filters.with_period(span).with_personalized(None))
            .filter(read.group.condition())
            .annotate(_seconds=_seconds(), _read=Value(index, output_field=IntegerField()))
        )
        if read.bucket > 0:
            tickets = tickets.filter(_seconds__gte=EDGES[read.bucket - 1])
        if read.bucket < len(EDGES):
            tickets = tickets.filter(_seconds__lt=EDGES[read.bucket])
        parts.append(
            tickets.order_by("_seconds").values_list("_read", "_seconds")[
                read.first - 1 : read.last
            ]
        )
    if not parts:
        return {}
    if len(parts) > 1 and connection.features.supports_slicing_ordering_in_compound:
        rows = list(parts[0].union(*parts[1:], all=True).order_by())
    else:
        rows = [row for part in parts for row in part]
    found: dict[int, list[float]] = {index: [] for index in range(len(reads))}
    for index, seconds in rows:
        found[index].append(seconds)
    for index, read in enumerate(reads):
        found[index].sort()
        if len(found[index]) != read.last - read.first + 1:
            return None
    return found


def _medians_of(
    groups: list[_Group], counts: dict[str, Counter[int]], filters: MetricFilters, span: Period
) -> dict[str, Estimate] | None:
    """Each group's median as `percentile_cont(0.5)` gives it: the middle ticket's time, or
    the two middle ones' interpolated. None when the tickets do not match the counts."""
    reads = [read for group in groups for read in _reads_of(group, counts[group.key])]
    times = _read_all(reads, filters, span)
    if times is None:
        return None
    at: dict[tuple[str, int], float] = {}
    for index, read in enumerate(reads):
        for rank, place in read.ranks:
            at[(read.group.key, rank)] = times[index][place - read.first]
    found: dict[str, Estimate] = {}
    for group in groups:
        n = sum(counts[group.key].values())
        if not n:
            found[group.key] = stats.NO_DATA
            continue
        low, high = _middle_ranks(n)
        found[group.key] = Estimate(
            value=_between(at[(group.key, low)], at[(group.key, high)]) / SECONDS_PER_HOUR, n=n
        )
    return found


def _between(first: float, second: float) -> float:
    """The two middle values' median, to the last bit as each database's own median gives
    it: PostgreSQL's percentile_cont interpolates (first + 0.5 * (second - first)), the
    other databases' `metrics.expressions.median_by` averages them."""
    if first == second:
        return first
    if connection.vendor == "postgresql":
        return first + 0.5 * (second - first)
    return (first + second) / 2
