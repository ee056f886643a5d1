"""What `customers.values` keeps of the purchase history equals the aggregates over the
purchases the card used to run, after every kind of write: the value to date per currency
(`ValueToDate`) and the owned products with their last purchase (`OwnedProduct`). The card
reads the purchases themselves only when the kept sums cannot answer (a purchase dated later
than now, another time zone)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.models import Max
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from core.dates import site_day_start
from customers import recommendations, selectors, values
from customers.merge import merge_customers
from customers.models import Customer, OwnedProduct, Product, Purchase, ValueToDate
from customers.purchases import write_purchases
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _history(seed: int, customers: int = 12) -> list[Customer]:
    """Purchases in two currencies, several a day (near local midnight now and then), of
    products with and without a cost, some refunded or cancelled, some without a product."""
    rng = random.Random(seed)
    products: list[Product | None] = [
        ProductFactory.create(cost=None),
        ProductFactory.create(cost=Decimal("700.00")),
        ProductFactory.create(cost=Decimal("12.50")),
        None,
    ]
    people = [CustomerFactory.create() for _ in range(customers)]
    for person in people:
        day = (NOW - dt.timedelta(days=rng.randrange(30, 900))).date()
        for _ in range(rng.randrange(0, 7)):
            minute = rng.choice([0, 1, 23 * 60 + 59, rng.randrange(1440)])
            moment = site_day_start(day) + dt.timedelta(minutes=minute)
            for _line in range(rng.choice([1, 1, 2, 3])):
                PurchaseFactory.create(
                    customer=person,
                    product=rng.choice(products),
                    amount=Decimal(rng.randrange(100, 50_000)) / 100,
                    quantity=rng.choice([1, 1, 2]),
                    currency=rng.choice(["RUB", "RUB", "USD"]),
                    purchased_at=moment,
                    status=rng.choice(
                        [Purchase.Status.COMPLETED] * 6
                        + [Purchase.Status.REFUNDED, Purchase.Status.CANCELLED]
                    ),
                )
            day += dt.timedelta(days=rng.choice([0, 1, 3, 40]))
            if day >= NOW.date():
                break
    return people


def _from_purchases(customer_id: int) -> list[dict[str, Any]]:
    return [dict(row) for row in selectors._value_by_currency(customer_id, NOW)]


def _kept(customer_id: int) -> list[dict[str, Any]]:
    rows = [dict(row) for row in selectors._kept_value(customer_id)]
    for row in rows:
        assert row.pop("time_zone") == timezone.get_default_timezone_name()
    return rows


def _owned_from_purchases(customer_id: int) -> list[dict[str, Any]]:
    """The card's grouping before the products were kept."""
    return [
        dict(row)
        for row in Purchase.objects.filter(
            customer_id=customer_id, status=Purchase.Status.COMPLETED, product__isnull=False
        )
        .values("product_id", "product__name", "product__successor_id")
        .annotate(last_bought=Max("purchased_at"))
        .order_by("product_id")
    ]


def _assert_kept_everywhere() -> None:
    for customer_id in Customer.objects.values_list("pk", flat=True):
        assert _kept(customer_id) == _from_purchases(customer_id), customer_id
        owned = [dict(row) for row in recommendations._owned(customer_id)]
        assert owned == _owned_from_purchases(customer_id), customer_id


def test_the_kept_sums_equal_the_aggregate_over_the_purchases() -> None:
    people = _history(seed=3)
    assert ValueToDate.objects.filter(currency="USD").exists()
    assert ValueToDate.objects.filter(margin__isnull=False).exists()
    assert OwnedProduct.objects.exists()
    _assert_kept_everywhere()
    # What the card shows: the same figures as the aggregate's.
    for person in people:
        shown = selectors.historical_value(person.pk, now=NOW)
        assert [(v.currency, v.revenue, v.orders, v.margin) for v in shown] == [
            (row["currency"], row["revenue"], row["orders"], row["margin"])
            for row in _from_purchases(person.pk)
        ]


def test_every_write_keeps_the_sums(admin_user: User) -> None:
    people = _history(seed=5)
    purchase = Purchase.objects.filter(status=Purchase.Status.COMPLETED).first()
    assert purchase is not None
    purchase.status = Purchase.Status.REFUNDED
    purchase.save()
    _assert_kept_everywhere()
    purchase.status = Purchase.Status.COMPLETED
    purchase.purchased_at -= dt.timedelta(days=100)
    purchase.currency = "USD"
    purchase.save()
    _assert_kept_everywhere()
    purchase.customer = people[-1] if purchase.customer_id != people[-1].pk else people[0]
    purchase.save()  # moved: both customers' sums change
    _assert_kept_everywhere()
    purchase.delete()
    _assert_kept_everywhere()
    product = Product.objects.filter(purchases__isnull=False).first()
    assert product is not None
    product.cost = Decimal("1.00") if product.cost is None else None
    product.save()  # the margin of everyone who bought it
    _assert_kept_everywhere()
    write_purchases(
        purchases=[
            Purchase(customer=people[2], amount=Decimal("10.00"), purchased_at=NOW, currency="EUR")
            for _ in range(3)
        ]
    )
    _assert_kept_everywhere()
    assert ValueToDate.objects.get(customer=people[2], currency="EUR").purchases == 3
    merge_customers(survivor=people[0], other=people[1], actor=admin_user)
    _assert_kept_everywhere()


def test_a_write_rolled_back_leaves_the_sums_as_they_were() -> None:
    person = CustomerFactory.create()
    PurchaseFactory.create(customer=person, amount=Decimal("5.00"))
    before = _kept(person.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        PurchaseFactory.create(customer=person, amount=Decimal("7.00"))
        raise RuntimeError
    assert _kept(person.pk) == before


def test_the_card_reads_one_row_a_currency_whatever_the_history() -> None:
    person = CustomerFactory.create()
    write_purchases(
        purchases=[
            Purchase(
                customer=person,
                amount=Decimal("100.00"),
                purchased_at=NOW - dt.timedelta(days=i + 1),
            )
            for i in range(300)
        ]
    )
    with CaptureQueriesContext(connection) as queries:
        (shown,) = selectors.historical_value(person.pk, now=NOW)
    assert len(queries) == 1
    assert ValueToDate._meta.db_table in queries[0]["sql"]
    assert Purchase._meta.db_table not in queries[0]["sql"]
    assert (shown.revenue, shown.purchases, shown.orders) == (Decimal("30000.00"), 300, 300)


def test_a_purchase_dated_later_than_now_is_counted_when_its_time_comes() -> None:
    person = CustomerFactory.create()
    PurchaseFactory.create(customer=person, amount=Decimal("10.00"), purchased_at=NOW)
    PurchaseFactory.create(
        customer=person, amount=Decimal("30.00"), purchased_at=NOW + dt.timedelta(days=2)
    )
    assert ValueToDate.objects.get(customer=person).revenue == Decimal("40.00")
    (today,) = selectors.historical_value(person.pk, now=NOW)
    assert (today.revenue, today.purchases, today.last_purchase_at) == (Decimal("10.00"), 1, NOW)
    (later,) = selectors.historical_value(person.pk, now=NOW + dt.timedelta(days=3))
    assert (later.revenue, later.purchases) == (Decimal("40.00"), 2)


def test_orders_are_days_of_the_sites_time_zone_until_the_sums_are_rebuilt() -> None:
    from crm.jobs import run_job

    person = CustomerFactory.create()
    # 23:30 and 00:30 in Moscow: two days there, one day in New York (15:30 and 16:30).
    evening = site_day_start(dt.date(2025, 3, 1)) + dt.timedelta(hours=23, minutes=30)
    for moment in (evening, evening + dt.timedelta(hours=1)):
        PurchaseFactory.create(customer=person, amount=Decimal("10.00"), purchased_at=moment)
    assert selectors.historical_value(person.pk, now=NOW)[0].orders == 2
    with override_settings(TIME_ZONE="America/New_York"):
        assert selectors.historical_value(person.pk, now=NOW)[0].orders == 1
        run_job("purchase_days", on=dt.date(2025, 3, 2))  # the summary of another zone
        assert ValueToDate.objects.get(customer=person).time_zone == "America/New_York"
        assert ValueToDate.objects.get(customer=person).orders == 1


def test_the_migration_sums_the_purchases_made_before_it() -> None:
    _history(seed=11, customers=6)
    ValueToDate.objects.all().delete()

    class Editor:
        connection = connection

    OwnedProduct.objects.all().delete()
    values.build_all_in_migration(apps, Editor())
    _assert_kept_everywhere()
