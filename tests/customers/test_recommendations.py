"""Next best offers: each rule fires when it should and stays quiet when it should not."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation

from customers.dates import add_months
from customers.models import Customer, Interest, Offer, Product, Purchase
from customers.recommendations import recommend
from tests.factories import (
    CustomerFactory,
    InterestFactory,
    OfferFactory,
    ProductCategoryFactory,
    ProductFactory,
    PurchaseFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
SITE_ZONE = zoneinfo.ZoneInfo(settings.TIME_ZONE)


def bought(
    customer: Customer, product: Product, *, on: dt.date | None = None, days_ago: int = 0
) -> Purchase:
    when = (
        dt.datetime.combine(on, dt.time(12), tzinfo=SITE_ZONE)
        if on is not None
        else NOW - dt.timedelta(days=days_ago)
    )
    return PurchaseFactory.create(customer=customer, product=product, purchased_at=when)


def offered(customer: Customer) -> dict[int, Any]:
    return {r.product.pk: r for r in recommend(customer, now=NOW, limit=10)}


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create()


# --- successor -------------------------------------------------------------------------------


def test_a_product_bought_long_ago_brings_its_successor(customer: Customer) -> None:
    new = ProductFactory.create(name="Phone 2")
    old = ProductFactory.create(name="Phone 1", successor=new)
    bought(customer, old, days_ago=settings.CRM_SUCCESSOR_AFTER_DAYS + 30)

    offer = offered(customer)[new.pk]

    assert offer.kind == Offer.Rule.SUCCESSOR
    assert "Phone 1" in offer.reason and "Phone 2" in offer.reason


def test_a_recent_purchase_does_not_bring_its_successor(customer: Customer) -> None:
    new = ProductFactory.create()
    old = ProductFactory.create(successor=new)
    bought(customer, old, days_ago=100)

    assert new.pk not in offered(customer)


def test_a_successor_the_customer_already_owns_is_not_offered(customer: Customer) -> None:
    new = ProductFactory.create()
    old = ProductFactory.create(successor=new)
    bought(customer, old, days_ago=settings.CRM_SUCCESSOR_AFTER_DAYS + 30)
    bought(customer, new, days_ago=10)

    assert new.pk not in offered(customer)


# --- co-purchase -----------------------------------------------------------------------------


def _buyers_of(count: int, *products: Product) -> None:
    for _ in range(count):
        other = CustomerFactory.create()
        for product in products:
            bought(other, product, days_ago=50)


def test_what_other_buyers_also_bought_is_offered_with_the_owned_product_named(
    customer: Customer,
) -> None:
    laptop = ProductFactory.create(name="Laptop")
    sleeve = ProductFactory.create(name="Sleeve")
    _buyers_of(settings.CRM_CO_PURCHASE_MIN_CUSTOMERS, laptop, sleeve)
    bought(customer, laptop, days_ago=5)

    offer = offered(customer)[sleeve.pk]

    assert offer.kind == Offer.Rule.CO_PURCHASE
    assert "Laptop" in offer.reason
    assert str(settings.CRM_CO_PURCHASE_MIN_CUSTOMERS) in offer.reason


def test_too_few_co_buyers_make_no_pattern(customer: Customer) -> None:
    laptop = ProductFactory.create()
    sleeve = ProductFactory.create()
    _buyers_of(settings.CRM_CO_PURCHASE_MIN_CUSTOMERS - 1, laptop, sleeve)
    bought(customer, laptop, days_ago=5)

    assert sleeve.pk not in offered(customer)


def test_a_recently_declined_offer_is_not_repeated(customer: Customer) -> None:
    laptop = ProductFactory.create()
    sleeve = ProductFactory.create()
    _buyers_of(settings.CRM_CO_PURCHASE_MIN_CUSTOMERS, laptop, sleeve)
    bought(customer, laptop, days_ago=5)
    OfferFactory.create(
        customer=customer,
        product=sleeve,
        status=Offer.Status.DECLINED,
        offered_at=NOW - dt.timedelta(days=10),
        responded_at=NOW - dt.timedelta(days=10),
    )

    assert sleeve.pk not in offered(customer)


def test_an_offer_declined_long_ago_may_be_made_again(customer: Customer) -> None:
    laptop = ProductFactory.create()
    sleeve = ProductFactory.create()
    _buyers_of(settings.CRM_CO_PURCHASE_MIN_CUSTOMERS, laptop, sleeve)
    bought(customer, laptop, days_ago=5)
    long_ago = NOW - dt.timedelta(days=settings.CRM_DECLINED_OFFER_QUIET_DAYS + 1)
    OfferFactory.create(
        customer=customer,
        product=sleeve,
        status=Offer.Status.DECLINED,
        offered_at=long_ago,
        responded_at=long_ago,
    )

    assert sleeve.pk in offered(customer)


# --- extension and renewal -------------------------------------------------------------------


def _warranty_ending_in(customer: Customer, days: int, **product: Any) -> Purchase:
    phone = ProductFactory.create(name="Nova S2", warranty_months=12, **product)
    ends_on = NOW.astimezone(SITE_ZONE).date() + dt.timedelta(days=days)
    return bought(customer, phone, on=add_months(ends_on, -12))


def test_a_warranty_ending_soon_brings_an_extension_of_its_category(customer: Customer) -> None:
    phones = ProductCategoryFactory.create(slug="phones")
    purchase = _warranty_ending_in(customer, 10, category=phones)
    extension = ProductFactory.create(
        name="Care+ 2 years", kind=Product.Kind.WARRANTY_EXTENSION, category=phones
    )

    offer = offered(customer)[extension.pk]

    assert offer.kind == Offer.Rule.WARRANTY_EXTENSION
    assert offer.purchase_id == purchase.pk
    assert "10 days" in offer.reason and "Nova S2" in offer.reason


@pytest.mark.parametrize(
    ("days", "language", "expected"),
    [
        (0, "en", "Warranty on Nova S2 expires today: Care+."),
        (1, "en", "Warranty on Nova S2 expires tomorrow: Care+."),
        (21, "en", "Warranty on Nova S2 expires in 21 days: Care+."),
        (0, "ru", "Гарантия на Nova S2 истекает сегодня: Care+."),
        (1, "ru", "Гарантия на Nova S2 истекает завтра: Care+."),
        (2, "ru", "Гарантия на Nova S2 истекает через 2 дня: Care+."),
        (5, "ru", "Гарантия на Nova S2 истекает через 5 дней: Care+."),
        (21, "ru", "Гарантия на Nova S2 истекает через 21 день: Care+."),
    ],
)
def test_the_reason_for_an_extension_says_when_in_words_and_plurals(
    customer: Customer, days: int, language: str, expected: str
) -> None:
    phones = ProductCategoryFactory.create(slug="phones")
    _warranty_ending_in(customer, days, category=phones)
    extension = ProductFactory.create(
        name="Care+", kind=Product.Kind.WARRANTY_EXTENSION, category=phones
    )

    with translation.override(language):
        reason = offered(customer)[extension.pk].reason

    assert reason == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Subscription Backup expires today: renew with Backup."),
        ("ru", "Подписка Backup истекает сегодня: продлить — Backup."),
    ],
)
def test_the_reason_for_a_renewal_due_today_says_today(
    customer: Customer, language: str, expected: str
) -> None:
    backup = ProductFactory.create(
        name="Backup", kind=Product.Kind.SUBSCRIPTION, subscription_months=1, warranty_months=0
    )
    bought(customer, backup, on=add_months(NOW.astimezone(SITE_ZONE).date(), -1))

    with translation.override(language):
        assert offered(customer)[backup.pk].reason == expected


def test_a_related_extension_is_offered_even_from_another_category(customer: Customer) -> None:
    purchase = _warranty_ending_in(customer, 3)
    extension = ProductFactory.create(kind=Product.Kind.WARRANTY_EXTENSION)
    purchase.product.related_products.add(extension)  # type: ignore[union-attr]

    assert offered(customer)[extension.pk].kind == Offer.Rule.WARRANTY_EXTENSION


def test_a_warranty_far_from_its_end_brings_no_extension(customer: Customer) -> None:
    phones = ProductCategoryFactory.create(slug="phones")
    _warranty_ending_in(customer, settings.CRM_EXPIRY_WARNING_DAYS + 20, category=phones)
    extension = ProductFactory.create(kind=Product.Kind.WARRANTY_EXTENSION, category=phones)

    assert extension.pk not in offered(customer)


def test_an_ending_subscription_is_offered_for_renewal_though_owned(customer: Customer) -> None:
    backup = ProductFactory.create(
        kind=Product.Kind.SUBSCRIPTION, subscription_months=1, warranty_months=0
    )
    ends_on = NOW.astimezone(SITE_ZONE).date() + dt.timedelta(days=4)
    bought(customer, backup, on=add_months(ends_on, -1))

    assert offered(customer)[backup.pk].kind == Offer.Rule.SUBSCRIPTION_RENEWAL


# --- open interests --------------------------------------------------------------------------


def test_an_open_cart_is_worth_reviving(customer: Customer) -> None:
    product = ProductFactory.create(name="Flex 13")
    InterestFactory.create(
        customer=customer, product=product, occurred_at=NOW - dt.timedelta(days=10)
    )

    offer = offered(customer)[product.pk]

    assert offer.kind == Offer.Rule.REVIVE_INTEREST
    assert "Flex 13" in offer.reason


def test_a_dismissed_or_stale_interest_is_left_alone(customer: Customer) -> None:
    dismissed = ProductFactory.create()
    stale = ProductFactory.create()
    InterestFactory.create(
        customer=customer,
        product=dismissed,
        status=Interest.Status.DISMISSED,
        closed_at=NOW,
        occurred_at=NOW - dt.timedelta(days=3),
    )
    InterestFactory.create(
        customer=customer,
        product=stale,
        occurred_at=NOW - dt.timedelta(days=settings.CRM_INTEREST_REVIVE_DAYS + 1),
    )

    offers = offered(customer)

    assert dismissed.pk not in offers and stale.pk not in offers


def test_a_product_off_sale_is_never_offered(customer: Customer) -> None:
    product = ProductFactory.create(is_active=False)
    InterestFactory.create(customer=customer, product=product, occurred_at=NOW)

    assert product.pk not in offered(customer)


# --- ranking and cost -------------------------------------------------------------------------


def test_offers_come_best_first_within_the_limit(customer: Customer) -> None:
    for days in (1, 2, 3):
        InterestFactory.create(
            customer=customer,
            product=ProductFactory.create(price=Decimal("10.00")),
            kind=Interest.Kind.QUOTE,
            occurred_at=NOW - dt.timedelta(days=days),
        )
    phones = ProductCategoryFactory.create(slug="phones")
    _warranty_ending_in(customer, 2, category=phones)
    extension = ProductFactory.create(kind=Product.Kind.WARRANTY_EXTENSION, category=phones)

    offers = recommend(customer, now=NOW, limit=2)

    assert len(offers) == 2
    assert offers[0].product == extension
    assert offers[0].score >= offers[1].score


def test_recommendations_take_a_fixed_number_of_queries(
    customer: Customer, django_assert_max_num_queries: Any
) -> None:
    phones = ProductCategoryFactory.create(slug="phones")
    _warranty_ending_in(customer, 10, category=phones)
    ProductFactory.create(kind=Product.Kind.WARRANTY_EXTENSION, category=phones)
    for _ in range(30):
        bought(customer, ProductFactory.create(), days_ago=800)
    InterestFactory.create(customer=customer, occurred_at=NOW)

    with django_assert_max_num_queries(7):
        recommend(customer, now=NOW, limit=5)
