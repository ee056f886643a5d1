"""Co-purchase counts: kept by purchase writes and the job, equal to the join they replace."""

from __future__ import annotations

import datetime as dt
import random
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count
from django.test import override_settings

from accounts.models import User
from crm.jobs import run_job
from customers import co_purchases
from customers.merge import merge_customers
from customers.models import Customer, Product, ProductCoPurchase, Purchase
from customers.purchases import write_purchases
from customers.recommendations import recommend
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
# The sample the per-card join read before the counts were kept (issue 18).
REFERENCE_SAMPLE_BUYERS = 2000


def reference_co_purchases(customer: Customer) -> list[tuple[int, int, int]]:
    """The card's co-purchase query before issue 18, kept as the reference: a self-join over
    the latest buyers of what the customer owns; rows (owned, partner, customers)."""
    owned_ids = list(
        Purchase.objects.filter(
            customer=customer, status=Purchase.Status.COMPLETED, product__isnull=False
        )
        .values_list("product_id", flat=True)
        .distinct()
    )
    if not owned_ids:
        return []
    recent_buyers = (
        Purchase.objects.filter(status=Purchase.Status.COMPLETED, product_id__in=owned_ids)
        .exclude(customer_id=customer.pk)
        .order_by("-purchased_at")
        .values("customer_id")[:REFERENCE_SAMPLE_BUYERS]
    )
    pairs = (
        Purchase.objects.filter(
            status=Purchase.Status.COMPLETED,
            product__isnull=False,
            customer_id__in=recent_buyers,
            customer__purchases__status=Purchase.Status.COMPLETED,
            customer__purchases__product_id__in=owned_ids,
        )
        .exclude(product_id__in=owned_ids)
        .values("product_id", "customer__purchases__product_id")
        .annotate(buyers=Count("customer_id", distinct=True))
        .filter(buyers__gte=settings.CRM_CO_PURCHASE_MIN_CUSTOMERS)
        .order_by("-buyers", "product_id", "customer__purchases__product_id")[:20]
    )
    return [(p["customer__purchases__product_id"], p["product_id"], p["buyers"]) for p in pairs]


def maintained(customer: Customer) -> list[tuple[int, int, int]]:
    owned = set(
        Purchase.objects.filter(
            customer=customer, status=Purchase.Status.COMPLETED, product__isnull=False
        ).values_list("product_id", flat=True)
    )
    return co_purchases.partners(
        owned, min_customers=settings.CRM_CO_PURCHASE_MIN_CUSTOMERS, limit=20
    )


def all_counts() -> dict[tuple[int, int], int]:
    return {
        (row.product_id, row.other_product_id): row.customers
        for row in ProductCoPurchase.objects.all()
    }


def test_the_demo_cards_offer_what_the_join_over_purchases_offered() -> None:
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        call_command("seed_demo", seed=7, password="demo-test-password", stdout=StringIO())
    buyers = Customer.objects.filter(purchases__status=Purchase.Status.COMPLETED).distinct()
    compared = with_partners = 0
    for customer in buyers:
        expected = reference_co_purchases(customer)
        assert maintained(customer) == expected, customer
        compared += 1
        with_partners += bool(expected)
    assert compared > 50
    assert with_partners > 10  # the comparison saw real patterns, not only empty lists
    # And what the job recounts from scratch is what the writes kept.
    kept = all_counts()
    co_purchases.rebuild()
    assert all_counts() == kept


def test_a_customer_buying_a_pair_twice_counts_once() -> None:
    laptop, sleeve = ProductFactory.create(), ProductFactory.create()
    customer = CustomerFactory.create()
    for _ in range(2):
        PurchaseFactory.create(customer=customer, product=laptop)
        PurchaseFactory.create(customer=customer, product=sleeve)
    write_purchases(
        purchases=[
            Purchase(customer=customer, product=laptop, amount=1),
            Purchase(customer=customer, product=sleeve, amount=1),
        ]
    )

    assert all_counts() == {(laptop.pk, sleeve.pk): 1, (sleeve.pk, laptop.pk): 1}


def test_writes_of_every_kind_keep_the_counts_a_rebuild_would_make() -> None:
    rng = random.Random(18)
    products = ProductFactory.create_batch(6)
    customers = CustomerFactory.create_batch(12)
    for _ in range(40):
        PurchaseFactory.create(customer=rng.choice(customers), product=rng.choice(products))
    for _ in range(5):  # bulk batches with a product twice for one customer, and refunds
        batch = [
            Purchase(
                customer=rng.choice(customers),
                product=rng.choice(products),
                amount=1,
                status=rng.choice([Purchase.Status.COMPLETED, Purchase.Status.REFUNDED]),
            )
            for _ in range(8)
        ]
        batch.append(Purchase(customer=batch[0].customer, product=batch[0].product, amount=1))
        write_purchases(purchases=batch)
    kept = all_counts()
    assert kept
    co_purchases.rebuild()

    assert all_counts() == kept


def test_a_refund_marks_the_counts_stale_and_the_job_recounts_them() -> None:
    laptop, sleeve = ProductFactory.create(), ProductFactory.create()
    customer = CustomerFactory.create()
    PurchaseFactory.create(customer=customer, product=laptop)
    refunded = PurchaseFactory.create(customer=customer, product=sleeve)
    co_purchases.rebuild()
    assert run_job("co_purchases") == {"rebuilt": 0}

    refunded.status = Purchase.Status.REFUNDED
    refunded.save()
    assert co_purchases.is_stale()
    assert all_counts()  # still the old pair until the job runs

    assert run_job("co_purchases") == {"rebuilt": 1}
    assert all_counts() == {}
    assert not co_purchases.is_stale()


def test_a_deleted_purchase_marks_the_counts_stale() -> None:
    purchase = PurchaseFactory.create()
    co_purchases.rebuild()
    purchase.delete()
    assert co_purchases.is_stale()


def test_a_merge_is_recounted_by_the_job(admin_user: User) -> None:
    laptop, sleeve = ProductFactory.create(), ProductFactory.create()
    survivor, other = CustomerFactory.create_batch(2)
    PurchaseFactory.create(customer=survivor, product=laptop)
    PurchaseFactory.create(customer=other, product=sleeve)
    co_purchases.rebuild()
    assert all_counts() == {}

    merge_customers(survivor=survivor, other=other, actor=admin_user)
    run_job("co_purchases")

    assert all_counts() == {(laptop.pk, sleeve.pk): 1, (sleeve.pk, laptop.pk): 1}


def test_the_command_recounts_and_says_how_many_rows() -> None:
    customer = CustomerFactory.create()
    for product in ProductFactory.create_batch(3):
        PurchaseFactory.create(customer=customer, product=product)
    ProductCoPurchase.objects.all().delete()
    out = StringIO()

    call_command("rebuild_co_purchases", stdout=out)

    assert "6 rows" in out.getvalue()
    assert len(all_counts()) == 6


def test_the_card_reads_co_purchases_with_one_query_whatever_the_catalogue(
    django_assert_num_queries: Any,
) -> None:
    products = ProductFactory.create_batch(30)
    for _ in range(settings.CRM_CO_PURCHASE_MIN_CUSTOMERS):
        buyer = CustomerFactory.create()
        for product in products:
            PurchaseFactory.create(customer=buyer, product=product)
    customer = CustomerFactory.create()
    for product in products[:15]:
        PurchaseFactory.create(customer=customer, product=product)
    owned = {product.pk for product in products[:15]}

    with django_assert_num_queries(1):
        rows = co_purchases.partners(owned, min_customers=1, limit=20)

    assert {partner for _owned, partner, _n in rows} <= {p.pk for p in products[15:]}
    assert len(rows) == 20
    offers = recommend(customer, now=NOW, limit=10)
    assert any(offer.product in products[15:] for offer in offers)


def test_products_off_sale_stay_counted_but_unoffered() -> None:
    laptop = ProductFactory.create()
    retired = ProductFactory.create(is_active=False)
    for _ in range(settings.CRM_CO_PURCHASE_MIN_CUSTOMERS):
        buyer = CustomerFactory.create()
        PurchaseFactory.create(customer=buyer, product=laptop)
        PurchaseFactory.create(customer=buyer, product=retired)
    customer = CustomerFactory.create()
    PurchaseFactory.create(customer=customer, product=laptop)

    assert (laptop.pk, retired.pk) in all_counts()
    assert all(offer.product != retired for offer in recommend(customer, now=NOW, limit=10))
    assert Product.objects.filter(pk=retired.pk, is_active=False).exists()
