"""Writers that uncover rolled-up days several times per transaction bump the markers once,
sorted, at the end: two of them at once never lock the markers in opposite orders."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import connections, transaction

from core.dates import site_today
from crm.demo.bulk import generate
from customers.models import Customer, Product, Purchase
from customers.purchases import write_purchases
from metrics import customer_rollup, purchase_days_upkeep, rollup_days
from metrics.models import FactRollupDay
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory

Key = tuple[str, dt.date]


@pytest.fixture
def bumps(monkeypatch: pytest.MonkeyPatch) -> list[list[Key]]:
    """The keys of each bump that bumps something, as `invalidate` sends them."""
    recorded: list[list[Key]] = []
    bump = rollup_days._bump

    def recording(keys: list[Key], *, using: str) -> None:
        if keys:
            recorded.append(list(keys))
        bump(keys, using=using)

    monkeypatch.setattr(rollup_days, "_bump", recording)
    return recorded


@pytest.mark.django_db
def test_a_generated_batch_bumps_every_day_it_touched_once_in_one_sorted_pass(
    bumps: list[list[Key]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(purchase_days_upkeep, "REBUILD_BATCH", 7)  # several rebuild batches

    generate(customers=40, seed=3, batch_size=20)

    assert len(bumps) == 2  # one per batch, every table's and rebuild batch's days in it
    for keys in bumps:
        assert keys == sorted(set(keys))
        assert {family for family, _day in keys} >= {customer_rollup.FAMILY, "tickets_created"}


@pytest.mark.django_db
def test_a_bump_inside_the_deferred_block_lands_in_the_same_transaction(
    bumps: list[list[Key]],
) -> None:
    day = site_today() - dt.timedelta(days=10)

    with pytest.raises(RuntimeError), transaction.atomic():
        with rollup_days.deferred_invalidation():
            rollup_days.invalidate([("inbound", day)])
            assert bumps == []  # collected, not bumped yet
        assert FactRollupDay.objects.get(family="inbound", day=day).version == 1
        raise RuntimeError("the writer fails: its bump goes with its rows")

    assert not FactRollupDay.objects.filter(family="inbound", day=day).exists()


def _purchase(customer: Customer, product: Product, day: dt.date) -> Purchase:
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return PurchaseFactory.build(customer=customer, product=product, purchased_at=at)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_bulk_purchase_writers_whose_days_cross_do_not_deadlock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each writer's rebuild batches (one customer each here) uncover the days in opposite
    orders: A day 1 then day 2, B day 2 then day 1. Both finish their first batch before either
    starts its second; bumped per batch, A waits for B's day 2 and B for A's day 1."""
    product = ProductFactory.create()
    first, second, third, fourth = (CustomerFactory.create() for _ in range(4))
    day_1 = site_today() - dt.timedelta(days=20)
    day_2 = site_today() - dt.timedelta(days=10)
    monkeypatch.setattr(purchase_days_upkeep, "REBUILD_BATCH", 1)

    both_batched_once = threading.Barrier(2, timeout=20)
    invalidate_changed = customer_rollup.invalidate_changed
    calls = threading.local()

    def invalidate_then_meet(before: set[tuple[Any, ...]], after: set[tuple[Any, ...]]) -> int:
        bumped = invalidate_changed(before, after)
        calls.count = getattr(calls, "count", 0) + 1
        if calls.count == 1:
            both_batched_once.wait()
        return bumped

    monkeypatch.setattr(customer_rollup, "invalidate_changed", invalidate_then_meet)
    errors: list[BaseException] = []

    def write(lines: Iterable[Purchase]) -> None:
        try:
            write_purchases(purchases=lines)
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)
            both_batched_once.abort()
        finally:
            connections.close_all()

    writers = [
        threading.Thread(
            target=write,
            args=([_purchase(first, product, day_1), _purchase(second, product, day_2)],),
        ),
        threading.Thread(
            target=write,
            args=([_purchase(third, product, day_2), _purchase(fourth, product, day_1)],),
        ),
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)

    assert errors == []
    assert Purchase.objects.filter(purchased_at__date__in=[day_1, day_2]).count() == 4
    markers = FactRollupDay.objects.filter(family=customer_rollup.FAMILY, day__in=[day_1, day_2])
    assert sorted(markers.values_list("version", flat=True)) == [2, 2]  # each writer's bump
