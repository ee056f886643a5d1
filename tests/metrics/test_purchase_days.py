"""The customer-base metrics from the per-customer-day summary equal the grouped query's.

`metrics.purchase_days` answers churn, retention, repeat purchases and historical CLV by
counting rows in ranges of days; `customer_base.customer_totals` groups the purchases by
customer. On a seeded random history (several purchases a day, refunds, products with and
without a cost, subscriptions, purchases near local midnight, segments) every figure must be
the same, for periods short and long, early and late, and after every kind of write.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from core.dates import site_day_start
from customers.models import Customer, Product, Purchase
from metrics import purchase_days, purchase_days_upkeep
from metrics.customer_figures import customer_figures
from metrics.models import PurchaseDay, PurchaseDaysBuild
from metrics.periods import MetricFilters, Period
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

HISTORY_START = dt.date(2023, 1, 1)
HISTORY_DAYS = 3 * 365
SEGMENTS = [choice for choice, _label in Customer.Segment.choices]


def _history(seed: int, customers: int = 40) -> list[Customer]:
    rng = random.Random(seed)
    products = [
        ProductFactory.create(cost=None),
        ProductFactory.create(cost=Decimal("700.00")),
        ProductFactory.create(cost=Decimal("12.50"), subscription_months=3),
        ProductFactory.create(cost=None, subscription_months=12),
    ]
    people = [CustomerFactory.create(segment=rng.choice(SEGMENTS)) for _ in range(customers)]
    for person in people:
        day = HISTORY_START + dt.timedelta(days=rng.randrange(HISTORY_DAYS))
        for _ in range(rng.randrange(0, 8)):
            # Near local midnight now and then: the day is the site's, not UTC's.
            minute = rng.choice([0, 1, 12 * 60, 23 * 60 + 59, rng.randrange(1440)])
            moment = site_day_start(day) + dt.timedelta(minutes=minute)
            for _line in range(rng.choice([1, 1, 1, 2, 3])):
                product = rng.choice(products[:2] if rng.random() < 0.8 else products)
                PurchaseFactory.create(
                    customer=person,
                    product=product,
                    amount=Decimal(rng.randrange(100, 50_000)) / 100,
                    quantity=rng.choice([1, 1, 2]),
                    purchased_at=moment,
                    status=rng.choice(
                        [Purchase.Status.COMPLETED] * 8
                        + [Purchase.Status.REFUNDED, Purchase.Status.CANCELLED]
                    ),
                )
            day += dt.timedelta(days=rng.choice([0, 1, 3, 20, 40, 90, 200, 400]))
            if day >= HISTORY_START + dt.timedelta(days=HISTORY_DAYS):
                break
    return people


def _periods() -> list[list[Period]]:
    year = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    month = Period(dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    day = Period(dt.date(2024, 3, 3), dt.date(2024, 3, 3))
    early = Period(dt.date(2022, 12, 1), dt.date(2023, 2, 15))
    leap_year = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31))  # 366 days
    return [
        [year, year.previous()],
        [month, month.previous()],
        [day],
        [early, early.previous()],
        [leap_year],
        [Period(dt.date(2023, 5, 1), dt.date(2025, 4, 30))],
    ]


def _grouped(filters: MetricFilters, periods: list[Period]) -> list[dict[str, Any]]:
    """The figures from the purchases alone (the summary marked stale)."""
    PurchaseDaysBuild.objects.all().delete()
    try:
        return customer_figures(filters, periods)
    finally:
        PurchaseDaysBuild.objects.create(time_zone=timezone.get_default_timezone_name())


def _assert_same(filters: MetricFilters, periods: list[Period]) -> None:
    assert purchase_days.is_current()
    fast = customer_figures(filters, periods)
    slow = _grouped(filters, periods)
    for got, want in zip(fast, slow, strict=True):
        assert got["base"] == want["base"]
        for key, value in want["activity"].items():
            # Counts and sums of money: exact in both paths, whatever the number type.
            assert got["activity"][key] == value, key
        assert got["clv"]["n"] == want["clv"]["n"]
        for key in ("mean", "mean_sq", "margin"):
            if want["clv"][key] is None:
                assert got["clv"][key] is None, key
            else:
                assert got["clv"][key] == pytest.approx(want["clv"][key], rel=1e-9), key


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("window", [365, 60])
def test_every_figure_equals_the_grouped_query(seed: int, window: int) -> None:
    _history(seed)
    purchase_days_upkeep.rebuild()
    with override_settings(METRICS_CHURN_INACTIVITY_DAYS=window):
        for periods in _periods():
            _assert_same(MetricFilters(period=periods[0]), periods)
            _assert_same(MetricFilters(period=periods[0], segment=SEGMENTS[0]), periods)


def test_the_summary_is_read_and_the_slow_path_is_not(django_assert_max_num_queries: Any) -> None:
    """The build check, the rollup's markers, the count of the days and the corrections."""
    for i in range(3):
        PurchaseFactory.create(purchased_at=site_day_start(dt.date(2025, 3, 1 + i)))
    purchase_days_upkeep.rebuild()
    year = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    with django_assert_max_num_queries(4) as context:
        figures = customer_figures(MetricFilters(period=year), [year, year.previous()])
    assert figures[0]["activity"]["customers"] == 3
    assert not any("customers_purchase" in query["sql"] for query in context.captured_queries)


def test_rows_link_days_and_keep_running_totals() -> None:
    person = CustomerFactory.create()
    costed = ProductFactory.create(cost=Decimal("10.00"))
    plain = ProductFactory.create(cost=None)
    at = site_day_start(dt.date(2025, 5, 1))
    PurchaseFactory.create(customer=person, product=plain, amount=100, purchased_at=at)
    PurchaseFactory.create(
        customer=person,
        product=costed,
        amount=50,
        quantity=2,
        purchased_at=at + dt.timedelta(hours=23),
    )
    PurchaseFactory.create(
        customer=person, product=costed, amount=30, purchased_at=at + dt.timedelta(days=9)
    )
    PurchaseFactory.create(
        customer=person,
        product=costed,
        amount=999,
        purchased_at=at + dt.timedelta(days=20),
        status=Purchase.Status.REFUNDED,
    )
    rows = list(PurchaseDay.objects.filter(customer=person).order_by("day"))
    assert [(r.day, r.previous_day, r.next_day, r.lines) for r in rows] == [
        (dt.date(2025, 5, 1), None, dt.date(2025, 5, 10), 2),
        (dt.date(2025, 5, 10), dt.date(2025, 5, 1), None, 1),
    ]
    assert rows[0].revenue == Decimal("150.00")
    assert rows[0].costed_revenue == Decimal("50.00")
    assert rows[0].known_cost == Decimal("20.00")
    assert rows[0].margin_to_date == Decimal("30.00")
    assert rows[1].revenue_to_date == Decimal("180.00")
    assert rows[1].margin_to_date == Decimal("50.00")


def test_every_write_keeps_the_rows_equal_to_a_rebuild() -> None:
    people = _history(seed=7, customers=12)
    purchase_days_upkeep.rebuild()

    def assert_fresh() -> None:
        kept = list(PurchaseDay.objects.order_by("customer_id", "day").values())
        purchase_days_upkeep.rebuild()
        rebuilt = list(PurchaseDay.objects.order_by("customer_id", "day").values())
        strip = [{k: v for k, v in row.items() if k != "id"} for row in kept]
        assert strip == [{k: v for k, v in row.items() if k != "id"} for row in rebuilt]

    purchase = Purchase.objects.filter(status=Purchase.Status.COMPLETED).first()
    assert purchase is not None
    purchase.status = Purchase.Status.REFUNDED
    purchase.save()
    assert_fresh()
    purchase.status = Purchase.Status.COMPLETED
    purchase.purchased_at -= dt.timedelta(days=100)
    purchase.save()
    assert_fresh()
    purchase.customer = people[-1] if purchase.customer_id != people[-1].pk else people[0]
    purchase.save()
    assert_fresh()
    PurchaseFactory.create(customer=people[3], purchased_at=site_day_start(dt.date(2024, 2, 29)))
    assert_fresh()
    Purchase.objects.filter(customer=people[3]).first().delete()  # type: ignore[union-attr]
    assert_fresh()
    product = Product.objects.filter(purchases__isnull=False).first()
    assert product is not None
    product.cost = Decimal("1.00") if product.cost is None else None
    product.save()
    assert_fresh()


def test_a_write_rolled_back_leaves_the_rows_as_they_were() -> None:
    from django.db import transaction

    person = CustomerFactory.create()
    PurchaseFactory.create(customer=person, purchased_at=site_day_start(dt.date(2025, 1, 5)))
    before = list(PurchaseDay.objects.filter(customer=person).values_list("day", flat=True))
    with pytest.raises(RuntimeError), transaction.atomic():
        PurchaseFactory.create(customer=person, purchased_at=site_day_start(dt.date(2025, 2, 5)))
        raise RuntimeError
    assert list(PurchaseDay.objects.filter(customer=person).values_list("day", flat=True)) == before


def test_a_changed_time_zone_falls_back_until_rebuilt() -> None:
    PurchaseFactory.create(purchased_at=site_day_start(dt.date(2025, 1, 5)))
    purchase_days_upkeep.rebuild()
    assert purchase_days.is_current()
    with override_settings(TIME_ZONE="America/New_York"):
        assert not purchase_days.is_current()
        period = Period(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
        assert not purchase_days.applies(MetricFilters(period=period), [period], 365)


def test_a_category_filter_or_a_long_period_uses_the_grouped_query() -> None:
    purchase_days_upkeep.rebuild()
    month = Period(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    assert purchase_days.applies(MetricFilters(period=month), [month], 365)
    assert not purchase_days.applies(MetricFilters(period=month, category_id=1), [month], 365)
    # Up to a year and a day (a leap year), or the window and a day when that is longer.
    leap_year = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    longer = Period(dt.date(2024, 1, 1), dt.date(2025, 1, 1))
    assert purchase_days.applies(MetricFilters(period=leap_year), [leap_year], 30)
    assert not purchase_days.applies(MetricFilters(period=longer), [longer], 30)
    assert not purchase_days.applies(MetricFilters(period=longer), [longer], 365)
    assert purchase_days.applies(MetricFilters(period=longer), [longer], 366)


def test_the_job_builds_a_summary_that_is_not_current_and_then_does_nothing() -> None:
    from crm.jobs import run_job

    PurchaseFactory.create(purchased_at=site_day_start(dt.date(2025, 1, 5)))
    PurchaseDay.objects.all().delete()
    PurchaseDaysBuild.objects.all().delete()
    assert run_job("purchase_days", on=dt.date(2025, 2, 1)) == {"rebuilt": 1}
    assert purchase_days.is_current()
    assert PurchaseDay.objects.count() == 1
    assert run_job("purchase_days", on=dt.date(2025, 2, 1)) == {"rebuilt": 0}


def test_imported_purchases_are_summarised() -> None:
    import io

    from customers.imports import import_purchases

    person = CustomerFactory.create(external_id="C-1")
    ProductFactory.create(sku="SKU-X", cost=Decimal("5.00"))
    rows = (
        "customer_external_id,sku,quantity,amount,currency,date\n"
        "C-1,SKU-X,1,100.00,RUB,2025-03-01T10:00:00+03:00\n"
        "C-1,SKU-X,2,300.00,RUB,2025-03-04T10:00:00+03:00\n"
    )
    import_purchases(stream=io.StringIO(rows))
    days = PurchaseDay.objects.filter(customer=person).order_by("day")
    assert [(d.day, d.next_day, d.revenue_to_date) for d in days] == [
        (dt.date(2025, 3, 1), dt.date(2025, 3, 4), Decimal("100.00")),
        (dt.date(2025, 3, 4), None, Decimal("400.00")),
    ]


def _buy(customer: Customer, day: dt.date, product: Product | None = None) -> None:
    PurchaseFactory.create(
        customer=customer,
        product=product or ProductFactory.create(),
        amount=Decimal("100.00"),
        purchased_at=site_day_start(day) + dt.timedelta(hours=12),
    )


def _base(period: Period) -> tuple[dict[str, int], dict[str, int]]:
    """The base counts of the period from the summary and from the grouped query."""
    purchase_days_upkeep.rebuild()
    fast = customer_figures(MetricFilters(period=period), [period])[0]["base"]
    return fast, _grouped(MetricFilters(period=period), [period])[0]["base"]


def test_a_subscription_longer_than_the_window_that_ends_in_the_period_loses_the_customer() -> None:
    """Two years of subscription bought before the window, a plain purchase in it: the
    subscription ends unrenewed in the period, so the customer is lost and not at the end,
    in both paths. Renewed (a later end) or still running, they stay."""
    two_years = ProductFactory.create(subscription_months=24)
    period = Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    lapsed, renewed, running = (CustomerFactory.create() for _ in range(3))
    for customer in (lapsed, renewed, running):
        # Ends 2025-03-10 (in the period); bought more than the window before it.
        _buy(customer, dt.date(2023, 3, 10), two_years)
        _buy(customer, dt.date(2025, 1, 15))  # at the start and at the end by activity
    _buy(renewed, dt.date(2025, 2, 20), two_years)  # ends 2027: renewed
    Purchase.objects.filter(customer=running).update(subscription_ends_on=dt.date(2025, 4, 30))
    with override_settings(METRICS_CHURN_INACTIVITY_DAYS=365):
        fast, slow = _base(period)
    assert fast == slow == {"at_start": 3, "lost": 1, "at_end": 2, "new": 0}


def test_a_period_longer_than_the_window_counts_who_bought_again_in_between() -> None:
    """Window 60 days, a leap year: at the start (bought in November 2023) and then, by hand,
    nothing more (lost); in the spring only (lost); in December 2024 only (stays); in the
    spring and in December (stays, the case the points cannot tell); in December after a
    subscription that ends in the period unrenewed (lost)."""
    month = ProductFactory.create(subscription_months=1)
    period = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    gone, spring, december, both, lapsed = (CustomerFactory.create() for _ in range(5))
    for customer in (gone, spring, december, both, lapsed):
        _buy(customer, dt.date(2023, 11, 20))
    for customer in (spring, both):
        _buy(customer, dt.date(2024, 4, 2))
    for customer in (december, both):
        _buy(customer, dt.date(2024, 12, 10))
    _buy(lapsed, dt.date(2024, 11, 25), month)  # ends 2024-12-25, in the period
    _buy(lapsed, dt.date(2024, 12, 1))
    with override_settings(METRICS_CHURN_INACTIVITY_DAYS=60):
        assert purchase_days.applies(MetricFilters(period=period), [period], 60)
        fast, slow = _base(period)
    assert fast == slow == {"at_start": 5, "lost": 3, "at_end": 2, "new": 0}
