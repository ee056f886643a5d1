"""Warranty, support and subscription terms: calendar months from the day of purchase."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from customers.dates import add_months
from customers.models import Purchase
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def moscow(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=MOSCOW)


# --- add_months ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),  # leap year
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),
        (dt.date(2025, 3, 31), 1, dt.date(2025, 4, 30)),
        (dt.date(2025, 11, 15), 2, dt.date(2026, 1, 15)),
        (dt.date(2025, 12, 31), 1, dt.date(2026, 1, 31)),
        (dt.date(2025, 5, 10), 0, dt.date(2025, 5, 10)),
        (dt.date(2025, 3, 31), -1, dt.date(2025, 2, 28)),
        (dt.date(2025, 1, 15), -1, dt.date(2024, 12, 15)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_to_the_month_end(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert add_months(day, months) == expected


days = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))
month_counts = st.integers(min_value=-1200, max_value=1200)


@given(day=days, months=month_counts)
def test_added_months_move_the_calendar_month_by_exactly_that_many(
    day: dt.date, months: int
) -> None:
    result = add_months(day, months)

    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months


@given(day=days, months=month_counts)
def test_added_months_never_move_the_day_later_and_clamp_only_at_the_month_end(
    day: dt.date, months: int
) -> None:
    result = add_months(day, months)

    assert result.day <= day.day
    if result.day != day.day:
        assert result.day == calendar.monthrange(result.year, result.month)[1]


@given(day=days, years=st.integers(min_value=-100, max_value=100))
def test_whole_years_keep_the_month(day: dt.date, years: int) -> None:
    result = add_months(day, 12 * years)

    assert (result.year, result.month) == (day.year + years, day.month)


# --- Purchase end dates ----------------------------------------------------------------------


@pytest.mark.django_db
def test_each_term_ends_its_months_after_the_purchase_day() -> None:
    product = ProductFactory.create(warranty_months=12, support_months=24, subscription_months=1)

    purchase = PurchaseFactory.create(product=product, purchased_at=moscow(2025, 1, 31))

    purchase.refresh_from_db()
    assert purchase.warranty_ends_on == dt.date(2026, 1, 31)
    assert purchase.support_ends_on == dt.date(2027, 1, 31)
    assert purchase.subscription_ends_on == dt.date(2025, 2, 28)


@pytest.mark.django_db
def test_a_one_month_term_from_31_january_ends_29_february_in_a_leap_year() -> None:
    product = ProductFactory.create(warranty_months=0, subscription_months=1)

    purchase = PurchaseFactory.create(product=product, purchased_at=moscow(2024, 1, 31))

    assert purchase.subscription_ends_on == dt.date(2024, 2, 29)


@pytest.mark.django_db
def test_terms_run_from_the_purchase_day_in_the_site_time_zone(settings) -> None:
    settings.TIME_ZONE = "Europe/Moscow"
    product = ProductFactory.create(warranty_months=12)
    late_new_year_eve_utc = dt.datetime(2024, 12, 31, 22, 30, tzinfo=dt.UTC)  # 01:30 in Moscow

    purchase = PurchaseFactory.create(product=product, purchased_at=late_new_year_eve_utc)

    assert purchase.purchased_on == dt.date(2025, 1, 1)
    assert purchase.warranty_ends_on == dt.date(2026, 1, 1)


@pytest.mark.django_db
def test_the_same_moment_is_still_31_december_on_a_utc_site(settings) -> None:
    settings.TIME_ZONE = "UTC"
    product = ProductFactory.create(warranty_months=12)

    purchase = PurchaseFactory.create(
        product=product, purchased_at=dt.datetime(2024, 12, 31, 22, 30, tzinfo=dt.UTC)
    )

    assert purchase.warranty_ends_on == dt.date(2025, 12, 31)


@pytest.mark.django_db
def test_terms_do_not_depend_on_the_zone_of_whoever_saves_the_purchase(settings) -> None:
    settings.TIME_ZONE = "Europe/Moscow"
    product = ProductFactory.create(warranty_months=12)

    # An operator in New York (their zone activated for the request) records the purchase.
    with timezone.override("America/New_York"):
        purchase = PurchaseFactory.create(
            product=product, purchased_at=dt.datetime(2024, 12, 31, 22, 30, tzinfo=dt.UTC)
        )

    assert purchase.warranty_ends_on == dt.date(2026, 1, 1)


@pytest.mark.django_db
def test_changing_the_product_recomputes_the_terms() -> None:
    purchase = PurchaseFactory.create(
        product=ProductFactory.create(warranty_months=12), purchased_at=moscow(2025, 3, 10)
    )

    purchase.product = ProductFactory.create(warranty_months=24, support_months=6)
    purchase.save()

    purchase.refresh_from_db()
    assert purchase.warranty_ends_on == dt.date(2027, 3, 10)
    assert purchase.support_ends_on == dt.date(2025, 9, 10)


@pytest.mark.django_db
def test_a_product_without_a_term_leaves_its_end_date_empty() -> None:
    product = ProductFactory.create(warranty_months=0, support_months=0, subscription_months=0)

    purchase = PurchaseFactory.create(product=product, purchased_at=moscow(2025, 3, 10))

    assert purchase.warranty_ends_on is None
    assert purchase.support_ends_on is None
    assert purchase.subscription_ends_on is None


@pytest.mark.django_db
def test_a_purchase_without_a_product_has_no_terms() -> None:
    purchase = PurchaseFactory.create(product=ProductFactory.create(warranty_months=12))

    purchase.product = None
    purchase.save()

    purchase.refresh_from_db()
    assert purchase.warranty_ends_on is None


@pytest.mark.django_db
def test_a_purchase_created_with_only_customer_and_amount_has_no_terms() -> None:
    purchase = Purchase.objects.create(customer=CustomerFactory.create(), amount="100.00")

    assert (purchase.warranty_ends_on, purchase.support_ends_on) == (None, None)


@pytest.mark.django_db
def test_saving_only_the_product_also_stores_its_terms() -> None:
    purchase = PurchaseFactory.create(
        product=ProductFactory.create(warranty_months=12), purchased_at=moscow(2025, 3, 10)
    )

    purchase.product = ProductFactory.create(warranty_months=0, subscription_months=3)
    purchase.save(update_fields=["product"])

    purchase.refresh_from_db()
    assert purchase.warranty_ends_on is None
    assert purchase.subscription_ends_on == dt.date(2025, 6, 10)


@pytest.mark.django_db
def test_saving_only_the_purchase_time_also_moves_its_terms() -> None:
    purchase = PurchaseFactory.create(
        product=ProductFactory.create(warranty_months=12), purchased_at=moscow(2025, 3, 10)
    )

    purchase.purchased_at = moscow(2025, 4, 1)
    purchase.save(update_fields=["purchased_at"])

    purchase.refresh_from_db()
    assert purchase.warranty_ends_on == dt.date(2026, 4, 1)
