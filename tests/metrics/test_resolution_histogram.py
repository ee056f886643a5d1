"""The median resolution time from the daily histogram of resolution times
(metrics/resolution_histogram.py) is the very figure the sort of every ticket gives
(`definitions.tickets.median_periods`): on rolled-up days, on days no rollup covers, on a
mix, with ties and times next to the buckets' edges, for each flag and the cohort split."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.db.models import FloatField, Value
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import resolution_histogram, rollups
from metrics.definitions.tickets import median_periods
from metrics.engine import GroupedFacts
from metrics.expressions import WidthBucket
from metrics.models import ResolutionTimeRollup
from metrics.periods import MetricFilters, Period
from metrics.registry import families
from metrics.rollup_days import covered_days
from metrics.stats import Estimate
from tests.factories import CustomerFactory, UserFactory
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db
ZONE = timezone.get_default_timezone()
PERIOD = Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
PERIODS = [PERIOD, PERIOD.previous()]
EDGES = resolution_histogram.EDGES


def _durations(rng: random.Random, n: int) -> list[float]:
    """Resolution times in seconds from a minute to weeks, with ties and times a millisecond
    either side of bucket edges."""
    times = [round(rng.lognormvariate(9, 2), 3) for _ in range(n)]
    times += [times[0]] * 3  # ties
    for edge in rng.sample(EDGES[40:250], 4):
        times += [int(edge * 1000) / 1000, int(edge * 1000 + 1) / 1000]
    return times


def _tickets(rng: random.Random, durations: list[float], first: dt.date, days: int) -> None:
    """Tickets resolved on random days from `first`, taking `durations` seconds."""
    customer = CustomerFactory.create()
    operator = UserFactory.create()
    made = Ticket.objects.bulk_create(
        Ticket(customer=customer, subject=f"t{i}", channel="phone", assignee=operator)
        for i in range(len(durations))
    )
    for ticket, seconds in zip(made, durations, strict=True):
        day = first + dt.timedelta(days=rng.randrange(days))
        resolved = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), ZONE)
        Ticket.objects.filter(pk=ticket.pk).update(
            status=Status.RESOLVED,
            resolved_at=resolved,
            created_at=resolved - dt.timedelta(seconds=seconds),
            personalized=rng.random() < 0.5,
        )


def _roll_up(first: dt.date, last: dt.date) -> None:
    rollups.roll_up(resolution_histogram.FAMILY, first, last)


def _covered(span: Period) -> set[dt.date]:
    family = resolution_histogram.FAMILY
    schema = rollups.schema(families()[family])
    return covered_days({family: schema}, span.start, span.end)[family]


def _from_histogram(filters: MetricFilters) -> tuple[list[Estimate], dict[object, Estimate]]:
    span = Period(min(p.start for p in PERIODS), max(p.end for p in PERIODS))
    covered = _covered(span)
    found = resolution_histogram.medians(
        filters,
        PERIODS,
        covered,
        rollups.facts_outside("resolved_at", covered, span),
        cohorts=True,
    )
    assert found is not None, "the histogram answered"
    return found


def _assert_same(filters: MetricFilters) -> None:
    got = _from_histogram(filters)
    wanted = median_periods(filters, PERIODS)
    assert [(e.value, e.n) for e in got[0]] == [(e.value, e.n) for e in wanted[0]]
    assert {k: (e.value, e.n) for k, e in got[1].items()} == {
        k: (e.value, e.n) for k, e in wanted[1].items()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("flag", [None, True, False])
def test_rolled_up_days_give_the_sorted_median(seed: int, flag: bool | None) -> None:
    rng = random.Random(seed)
    _tickets(rng, _durations(rng, 60 + seed), PERIOD.previous().start, 61)
    _roll_up(PERIOD.previous().start, PERIOD.end)
    assert ResolutionTimeRollup.objects.exists()
    _assert_same(MetricFilters(period=PERIOD, personalized=flag))


@pytest.mark.parametrize("flag", [None, True])
def test_uncovered_days_are_counted_from_the_tickets(flag: bool | None) -> None:
    rng = random.Random(7)
    _tickets(rng, _durations(rng, 80), PERIOD.previous().start, 61)
    # Only the first half of March and the month before are rolled up; the rest is read.
    _roll_up(PERIOD.previous().start, dt.date(2025, 3, 15))
    _assert_same(MetricFilters(period=PERIOD, personalized=flag))


def test_a_write_to_a_rolled_up_day_is_read_from_the_tickets() -> None:
    rng = random.Random(11)
    _tickets(rng, _durations(rng, 50), PERIOD.start, 31)
    _roll_up(PERIOD.previous().start, PERIOD.end)
    assert dt.date(2025, 3, 12) in _covered(PERIOD)
    ticket = Ticket.objects.filter(resolved_at__isnull=False).order_by("pk").first()
    assert ticket is not None
    # A ticket resolved much later on a rolled-up day: the day is uncovered by the save.
    ticket.resolved_at = dt.datetime(2025, 3, 12, 12, tzinfo=ZONE)
    ticket.created_at = ticket.resolved_at - dt.timedelta(days=40)
    ticket.save()
    assert dt.date(2025, 3, 12) not in _covered(PERIOD)
    _assert_same(MetricFilters(period=PERIOD))


def test_the_dashboard_reads_the_histogram_in_a_few_small_statements() -> None:
    rng = random.Random(5)
    _tickets(rng, _durations(rng, 120), PERIOD.previous().start, 61)
    _roll_up(PERIOD.previous().start, PERIOD.end)
    filters = MetricFilters(period=PERIOD)
    facts = GroupedFacts(filters, PERIODS)
    with CaptureQueriesContext(connection) as queries:
        got = facts.medians()
    sql = [query["sql"] for query in queries.captured_queries]
    assert any("resolutiontimerollup" in statement for statement in sql)
    assert not any("PERCENTILE_CONT" in statement.upper() for statement in sql)
    # Markers, the histogram, the uncovered days, one read per middle (two periods, two
    # cohorts) and the snapshot's own statements at most.
    assert len(sql) <= 12
    wanted = median_periods(filters, PERIODS)
    assert [e.value for e in got[0]] == [e.value for e in wanted[0]]


def test_a_slice_the_histogram_does_not_hold_sorts_the_tickets() -> None:
    rng = random.Random(9)
    _tickets(rng, _durations(rng, 30), PERIOD.start, 31)
    _roll_up(PERIOD.previous().start, PERIOD.end)
    span = Period(PERIOD.previous().start, PERIOD.end)
    covered = _covered(span)
    for sliced in (
        MetricFilters(period=PERIOD, channel="phone"),
        MetricFilters(period=PERIOD, operator_id=1),
        MetricFilters(period=PERIOD, segment="vip"),
    ):
        outside = rollups.facts_outside("resolved_at", covered, span)
        assert resolution_histogram.medians(sliced, PERIODS, covered, outside, cohorts=True) is None
        got = GroupedFacts(sliced, PERIODS).medians()
        wanted = median_periods(sliced, PERIODS)
        assert [e.value for e in got[0]] == [e.value for e in wanted[0]]


def test_no_rolled_up_day_leaves_it_to_the_sort() -> None:
    rng = random.Random(3)
    _tickets(rng, _durations(rng, 20), PERIOD.start, 31)
    span = Period(PERIOD.previous().start, PERIOD.end)
    assert (
        resolution_histogram.medians(
            MetricFilters(period=PERIOD), PERIODS, set(), None, cohorts=False
        )
        is None
    )
    assert _covered(span) == set()


def test_empty_periods_have_no_median() -> None:
    _roll_up(PERIOD.previous().start, PERIOD.end)
    medians, split = _from_histogram(MetricFilters(period=PERIOD))
    assert [e.n for e in medians] == [0, 0]
    assert split == {}


def test_the_job_writes_the_histogram_with_the_family_and_a_day_per_row() -> None:
    rng = random.Random(4)
    durations = _durations(rng, 40)
    _tickets(rng, durations, PERIOD.start, 31)
    _roll_up(PERIOD.start, PERIOD.end)
    rows = ResolutionTimeRollup.objects.all()
    assert sum(row.tickets for row in rows) == len(durations)
    for row in rows:
        assert PERIOD.start <= row.day <= PERIOD.end
    # Rolled again, the days' rows are replaced, not added to.
    _roll_up(PERIOD.start, PERIOD.end)
    assert sum(ResolutionTimeRollup.objects.values_list("tickets", flat=True)) == len(durations)


@given(st.floats(min_value=-10.0, max_value=1e9, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_bucket_of_is_the_bucket_postgresql_counts(seconds: float) -> None:
    bucket = resolution_histogram.bucket_of(seconds)
    assert bucket == 0 or EDGES[bucket - 1] <= seconds
    assert bucket == len(EDGES) or seconds < EDGES[bucket]
    if connection.vendor == "postgresql":
        ResolutionTimeRollup.objects.get_or_create(
            day=PERIOD.start, personalized=False, bucket=0, defaults={"tickets": 1}
        )
        counted = (
            ResolutionTimeRollup.objects.annotate(
                _bucket=WidthBucket(Value(seconds, output_field=FloatField()), EDGES)
            )
            .values_list("_bucket", flat=True)
            .first()
        )
        assert counted == bucket


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_the_counts_and_tickets_come_from_one_snapshot() -> None:
    """As a request runs it (no transaction of its own): on PostgreSQL the histogram is read
    in a REPEATABLE READ transaction of its own, which ends with it."""
    rng = random.Random(13)
    _tickets(rng, _durations(rng, 40), PERIOD.previous().start, 61)
    _roll_up(PERIOD.previous().start, PERIOD.end)
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as queries:
        got = _from_histogram(MetricFilters(period=PERIOD))
    sql = [query["sql"] for query in queries.captured_queries]
    if connection.vendor == "postgresql":
        first = next(i for i, statement in enumerate(sql) if "resolutiontimerollup" in statement)
        assert sql[first - 1].startswith("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    assert not connection.in_atomic_block
    wanted = median_periods(MetricFilters(period=PERIOD), PERIODS)
    assert [(e.value, e.n) for e in got[0]] == [(e.value, e.n) for e in wanted[0]]
    assert {k: e.value for k, e in got[1].items()} == {k: e.value for k, e in wanted[1].items()}
