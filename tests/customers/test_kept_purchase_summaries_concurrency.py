"""Two writes to one customer's purchases at once, against real PostgreSQL: what is kept of
the history (the per-day summary, the value to date, the owned products) is rebuilt by one
writer after the other, never by both over each other (a unique violation, or sums that miss
a line). A new purchase of a product already waited for the co-purchase counts' lock on the
customer; a purchase without a product, a refund or a deletion did not."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection, transaction

from customers.models import CustomerTally, OwnedProduct, Purchase, ValueToDate
from metrics.models import PurchaseDay
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    ProductFactory,
    PurchaseFactory,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _run_together(first: Callable[[], None], second: Callable[[], None]) -> None:
    """Both in threads of their own (each its own connection); their errors raised here."""
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,)) for work in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


def test_two_buyers_of_products_at_once_do_not_deadlock() -> None:
    """Each writer's insert holds a key-share lock on the customer; the co-purchase counts
    then locked the customer FOR UPDATE, which waits for the other's key share: two writers
    each waited for the other, and PostgreSQL aborted one (a 500 for its user)."""
    customer = CustomerFactory.create()
    products = [ProductFactory.create() for _ in range(3)]
    second_may_start = threading.Event()

    def first() -> None:
        with transaction.atomic():
            PurchaseFactory.create(customer=customer, product=None, amount=Decimal("1.00"))
            second_may_start.set()
            threading.Event().wait(0.5)  # the second inserts its line meanwhile
            PurchaseFactory.create(customer=customer, product=products[0], amount=Decimal("2.00"))

    def second() -> None:
        second_may_start.wait(timeout=10)
        with transaction.atomic():
            PurchaseFactory.create(customer=customer, product=products[1], amount=Decimal("4.00"))

    _run_together(first, second)
    assert ValueToDate.objects.get(customer=customer).revenue == Decimal("7.00")
    owned = OwnedProduct.objects.filter(customer=customer).values_list("product", flat=True)
    assert set(owned) == {products[0].pk, products[1].pk}


def test_two_writes_to_one_customers_purchases_at_once_are_both_kept() -> None:
    """A line without a product and a refund took no lock: the second writer deleted
    nothing of what the first had just inserted and inserted the same day again."""
    customer = CustomerFactory.create()
    first_product, second_product = ProductFactory.create(), ProductFactory.create()
    PurchaseFactory.create(customer=customer, product=first_product, amount=Decimal("1.00"))
    refunded = PurchaseFactory.create(
        customer=customer, product=second_product, amount=Decimal("1000.00")
    )
    first_written = threading.Event()

    def first() -> None:
        with transaction.atomic():
            PurchaseFactory.create(customer=customer, product=None, amount=Decimal("10.00"))
            first_written.set()
            threading.Event().wait(0.5)  # held open while the second reaches the same rows

    def second() -> None:
        first_written.wait(timeout=10)
        with transaction.atomic():
            refunded.status = Purchase.Status.REFUNDED
            refunded.save()
            PurchaseFactory.create(customer=customer, product=None, amount=Decimal("100.00"))

    _run_together(first, second)
    assert Purchase.objects.filter(customer=customer).count() == 4
    value = ValueToDate.objects.get(customer=customer)
    assert (value.revenue, value.purchases) == (Decimal("111.00"), 3)
    owned = OwnedProduct.objects.filter(customer=customer).values_list("product", flat=True)
    assert list(owned) == [first_product.pk]
    days = PurchaseDay.objects.filter(customer=customer)
    assert sum(day.revenue for day in days) == Decimal("111.00")


def test_writes_in_autocommit_keep_the_tallies() -> None:
    """Outside a transaction (a script, a test's setup) the lock needs one of its own: an
    interaction created in autocommit raised TransactionManagementError on PostgreSQL."""
    customer = CustomerFactory.create()
    interaction = InteractionFactory.create(customer=customer)
    PurchaseFactory.create(customer=customer, amount=Decimal("3.00"))
    tally = CustomerTally.objects.get(customer=customer)
    assert (tally.interactions, tally.purchases) == (1, 1)
    interaction.delete()
    assert CustomerTally.objects.get(customer=customer).interactions == 0
