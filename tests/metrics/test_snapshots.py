"""Daily snapshots: idempotent per day, overall and per channel; weekly series from them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.dates import site_day_start
from customers.models import Channel
from metrics import selectors
from metrics.engine import compute_metric
from metrics.models import MetricSnapshot
from metrics.periods import MetricFilters, Period
from metrics.snapshots import store_daily_snapshots
from surveys.models import Survey
from tests.factories import TicketFactory
from tests.metrics.helpers import answer, survey

pytestmark = pytest.mark.django_db
MONDAY = dt.date(2025, 3, 10)
WEEK = Period(MONDAY, MONDAY + dt.timedelta(days=6))


def _noon(day: dt.date) -> dt.datetime:
    return site_day_start(day) + dt.timedelta(hours=12)


@pytest.fixture
def week_of_answers() -> None:
    csat, nps = survey(Survey.Kind.CSAT), survey(Survey.Kind.NPS)
    scores = {0: (5, 4, 1), 1: (2,), 3: (5, 5), 6: (3, 4)}
    for offset, day_scores in scores.items():
        for score in day_scores:
            answer(csat, score, at=_noon(MONDAY + dt.timedelta(days=offset)), channel=Channel.PHONE)
    for offset, score in enumerate((10, 9, 6, 8, 0, 10, 7)):
        answer(nps, score, at=_noon(MONDAY + dt.timedelta(days=offset)))
    ticket = TicketFactory.create(created_at=_noon(MONDAY))
    ticket.first_response_at = _noon(MONDAY) + dt.timedelta(minutes=30)
    ticket.save()
    other = TicketFactory.create(created_at=_noon(MONDAY))
    other.first_response_at = _noon(MONDAY) + dt.timedelta(minutes=90)
    other.save()


def test_snapshots_store_the_day_overall_and_per_channel(week_of_answers: None) -> None:
    stored = store_daily_snapshots(day=MONDAY)
    assert stored == MetricSnapshot.objects.filter(day=MONDAY).count()
    overall = MetricSnapshot.objects.get(day=MONDAY, metric="csat", dimension="")
    assert (overall.value, overall.n) == (pytest.approx(200 / 3), 3)
    phone = MetricSnapshot.objects.get(day=MONDAY, metric="csat", dimension="channel")
    assert (phone.dimension_value, phone.n) == ("phone", 3)
    # A day without data is stored as "no data", not zero.
    empty = MetricSnapshot.objects.get(day=MONDAY, metric="abandonment_rate", dimension="")
    assert (empty.value, empty.n) == (None, 0)


def test_storing_a_day_twice_replaces_it(week_of_answers: None) -> None:
    first = store_daily_snapshots(day=MONDAY)
    again = store_daily_snapshots(day=MONDAY)
    assert first == again == MetricSnapshot.objects.filter(day=MONDAY).count()


def test_weekly_series_from_snapshots_equals_the_facts(
    week_of_answers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for offset in range(7):
        store_daily_snapshots(day=MONDAY + dt.timedelta(days=offset))
    later = timezone.make_aware(dt.datetime(2025, 4, 2, 12), timezone.get_default_timezone())
    monkeypatch.setattr(timezone, "now", lambda: later)
    filters = MetricFilters(period=WEEK)
    for name in ("csat", "nps", "first_response_time", "csat_mean"):
        (point,) = selectors.timeseries(name, filters, interval="week")
        direct = compute_metric(name, filters)
        assert point.source == "snapshots", name
        assert point.estimate.n == direct.n, name
        assert point.estimate.value == pytest.approx(direct.value), name
        if direct.ci_low is not None:
            assert point.estimate.ci_low == pytest.approx(direct.ci_low), name
            assert point.estimate.ci_high == pytest.approx(direct.ci_high), name


def test_series_falls_back_to_facts_where_snapshots_are_missing(week_of_answers: None) -> None:
    store_daily_snapshots(day=MONDAY)  # one day of seven
    (point,) = selectors.timeseries("csat", MetricFilters(period=WEEK), interval="week")
    assert point.source == "facts"
    assert point.estimate.n == 8


def test_series_by_month_and_for_a_slice_snapshots_do_not_hold(week_of_answers: None) -> None:
    march = Period(dt.date(2025, 3, 1), dt.date(2025, 4, 30))
    points = selectors.timeseries(
        "median_resolution_time", MetricFilters(period=march), interval="month"
    )
    assert [point.start for point in points] == [dt.date(2025, 3, 1), dt.date(2025, 4, 1)]
    assert all(point.estimate.value is None for point in points)
    sliced = selectors.timeseries(
        "csat", MetricFilters(period=march, personalized=False), interval="month"
    )
    assert sliced[0].estimate.n == 8 and sliced[0].source == "facts"
