"""The customer-base figures from the daily rollup of the purchase summary equal the grouped
query's, whether every day is rolled up, some are, or a write uncovered some since.

`metrics.customer_rollup` turns churn, retention, repeat purchases and historical CLV into sums
over points of the customers' purchase days, stored per day by the nightly job. The histories
are the random ones of test_purchase_days (several lines a day, refunds, costs, subscriptions,
purchases near local midnight, segments).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.dates import site_day_start, site_today
from customers.models import Purchase
from metrics import customer_rollup, purchase_days_upkeep
from metrics.customer_figures import customer_figures
from metrics.models import FactRollupDay, PurchaseDay, PurchaseDayRollup
from metrics.periods import MetricFilters, Period
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory
from tests.metrics.test_purchase_days import SEGMENTS, _assert_same, _history, _periods

pytestmark = pytest.mark.django_db


def _roll_up(window: int = 365) -> int:
    return customer_rollup.roll_up_due(on=site_today(), window_days=window)


def _uncovered() -> set[dt.date]:
    """Days the job would roll (up to two days ago) whose markers are not current."""
    rolled_until = site_today() - dt.timedelta(days=2)
    return set(
        FactRollupDay.objects.filter(family=customer_rollup.FAMILY, day__lte=rolled_until)
        .exclude(rolled_version=F("version"))
        .values_list("day", flat=True)
    )


def _assert_all_periods(window: int) -> None:
    for periods in _periods():
        _assert_same(MetricFilters(period=periods[0]), periods)
        _assert_same(MetricFilters(period=periods[0], segment=SEGMENTS[1]), periods)


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("window", [365, 60])
def test_figures_from_the_rollup_equal_the_grouped_query(seed: int, window: int) -> None:
    _history(seed)
    purchase_days_upkeep.rebuild()
    with override_settings(METRICS_CHURN_INACTIVITY_DAYS=window):
        assert _roll_up(window) > 0
        assert PurchaseDayRollup.objects.exists()
        _assert_all_periods(window)


def test_a_rollup_for_another_window_is_not_read() -> None:
    _history(5, customers=15)
    purchase_days_upkeep.rebuild()
    _roll_up(365)
    year = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert customer_rollup.covered_runs(365, year.end)
    assert not customer_rollup.covered_runs(60, year.end)
    with override_settings(METRICS_CHURN_INACTIVITY_DAYS=60):
        _assert_same(MetricFilters(period=year), [year, year.previous()])


def test_a_half_rolled_history_reads_the_other_days_from_the_summary() -> None:
    _history(6)
    purchase_days_upkeep.rebuild()
    # The job as if it had run on 2024-07-01: the days since come from the summary.
    customer_rollup.roll_up_due(on=dt.date(2024, 7, 1), window_days=365)
    runs = customer_rollup.covered_runs(365, dt.date(2026, 1, 1))
    assert runs and runs[-1][1] == dt.date(2024, 6, 29)
    _assert_all_periods(365)


def test_a_backdated_write_uncovers_its_days_and_the_figures_stay_exact() -> None:
    people = _history(7, customers=25)
    purchase_days_upkeep.rebuild()
    _roll_up()
    assert not _uncovered()
    purchase = Purchase.objects.filter(
        status=Purchase.Status.COMPLETED, purchased_at__year=2024
    ).first()
    assert purchase is not None
    purchase.purchased_at -= dt.timedelta(days=45)
    purchase.save()
    PurchaseFactory.create(customer=people[0], purchased_at=site_day_start(dt.date(2024, 2, 29)))
    refunded = Purchase.objects.filter(status=Purchase.Status.COMPLETED).last()
    assert refunded is not None
    refunded.status = Purchase.Status.REFUNDED
    refunded.save()
    uncovered = _uncovered()
    assert uncovered
    _assert_all_periods(365)
    # The next run rolls up just the uncovered days again.
    assert _roll_up() == len(uncovered)
    assert not _uncovered()
    _assert_all_periods(365)


def test_a_new_purchase_today_uncovers_no_day() -> None:
    person = CustomerFactory.create()
    for day in (dt.date(2025, 3, 1), dt.date(2025, 9, 1)):
        PurchaseFactory.create(customer=person, purchased_at=site_day_start(day))
    purchase_days_upkeep.rebuild()
    _roll_up()
    before = dict(FactRollupDay.objects.values_list("day", "version"))
    with CaptureQueriesContext(connection) as context:
        PurchaseFactory.create(customer=person, purchased_at=timezone.now())
    assert dict(FactRollupDay.objects.values_list("day", "version")) == before
    assert not any("metrics_factrollupday" in q["sql"] for q in context.captured_queries)


def test_a_product_cost_change_uncovers_its_buyers_days() -> None:
    product = ProductFactory.create(cost=None)
    person = CustomerFactory.create()
    PurchaseFactory.create(
        customer=person,
        product=product,
        amount=Decimal("90.00"),
        purchased_at=site_day_start(dt.date(2025, 4, 2)),
    )
    purchase_days_upkeep.rebuild()
    _roll_up()
    product.cost = Decimal("40.00")
    product.save()
    assert _uncovered() == {dt.date(2025, 4, 2)}
    year = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    _assert_same(MetricFilters(period=year), [year])
    assert customer_figures(MetricFilters(period=year), [year])[0]["clv"]["margin"] == 50.0


def test_deleted_purchases_uncover_their_days() -> None:
    people = _history(8, customers=12)
    purchase_days_upkeep.rebuild()
    _roll_up()
    gone = next(p for p in people if PurchaseDay.objects.filter(customer=p).exists())
    days = set(PurchaseDay.objects.filter(customer=gone).values_list("day", flat=True))
    for purchase in Purchase.objects.filter(customer=gone):
        purchase.delete()
    assert days <= _uncovered()
    _assert_all_periods(365)


def test_a_whole_rebuild_uncovers_every_day_until_the_job_runs() -> None:
    _history(9, customers=10)
    purchase_days_upkeep.rebuild()
    _roll_up()
    purchase_days_upkeep.rebuild()
    year = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert not customer_rollup.covered_runs(365, year.end)
    _assert_same(MetricFilters(period=year), [year, year.previous()])
    assert _roll_up() > 0
    assert customer_rollup.covered_runs(365, year.end)


def test_the_job_waits_for_a_current_summary() -> None:
    PurchaseFactory.create(purchased_at=site_day_start(dt.date(2025, 1, 5)))
    from metrics.models import PurchaseDaysBuild

    PurchaseDaysBuild.objects.all().delete()
    assert _roll_up() == 0
    assert not PurchaseDayRollup.objects.exists()


def test_the_rollups_job_rolls_the_customer_days_too() -> None:
    from crm.jobs import run_job

    PurchaseFactory.create(purchased_at=site_day_start(dt.date(2025, 1, 5)))
    summary = run_job("rollups", on=dt.date(2025, 1, 20))
    assert summary[customer_rollup.FAMILY] == 14  # 5 to 18 January
    assert run_job("rollups", on=dt.date(2025, 1, 20))[customer_rollup.FAMILY] == 0


def test_rolled_up_figures_read_a_bounded_number_of_rows(
    django_assert_max_num_queries: Any,
) -> None:
    """The build check, the markers, the summary's other days, the rollup (its day totals and
    its earlier-day points apart) and the rows' corrections (subscriptions that ended
    unrenewed): six queries whatever the history's length or its subscribers; no purchase
    scan."""
    _history(10, customers=30)
    purchase_days_upkeep.rebuild()
    _roll_up()
    year = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert PurchaseDay.objects.exclude(subscription_max_to_date=None).exists()
    with django_assert_max_num_queries(6) as context:
        customer_figures(MetricFilters(period=year), [year, year.previous()])
    assert not any("customers_purchase" in q["sql"] for q in context.captured_queries)


def test_a_leap_year_under_a_short_window_reads_one_more_query_and_no_purchase(
    django_assert_max_num_queries: Any,
) -> None:
    """A period longer than the window: the customers who bought again in between are one
    more count over the rows, not the grouped query."""
    _history(12, customers=30)
    with override_settings(METRICS_CHURN_INACTIVITY_DAYS=60):
        purchase_days_upkeep.rebuild()
        _roll_up(60)
        leap_year = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
        with django_assert_max_num_queries(7) as context:
            customer_figures(MetricFilters(period=leap_year), [leap_year])
        assert not any("customers_purchase" in q["sql"] for q in context.captured_queries)
        _assert_same(MetricFilters(period=leap_year), [leap_year])


def test_the_totals_statements_compile_once_and_serve_other_periods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The summary's and the rollup's statements are compiled once per shape (which sums,
    which of their days are the same; customers.selectors.fixed_rows), none built per call;
    read again for other days of the same shape, they give the totals of the statements
    built afresh for those days."""
    from customers import selectors as statements

    _history(3)
    purchase_days_upkeep.rebuild()
    assert _roll_up() > 0
    compiled: dict[Any, Any] = {}
    monkeypatch.setattr(statements, "_compiled_pages", compiled)
    year = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    customer_rollup.totals([year, year.previous()], 365)
    assert None not in compiled.values(), [k[1] for k, v in compiled.items() if v is None]
    assert {key[1] for key in compiled} == {
        "customer days: summary, all",
        "customer days: rollup, totals",
        "customer days: rollup, lagged",
    }
    count = len(compiled)
    shifted = Period(dt.date(2025, 2, 1), dt.date(2026, 1, 31))
    again = customer_rollup.totals([shifted, shifted.previous()], 365)
    assert len(compiled) == count
    compiled.clear()
    assert again == customer_rollup.totals([shifted, shifted.previous()], 365)
    assert any(again[0].values())
