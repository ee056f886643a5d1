"""Which purchases get a reminder on which day, and that each is created once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import Purchase, Reminder
from customers.reminders import create_due_reminders, due_reminders, lead_days_for
from tests.delivery_fixtures import moscow, recording_backend  # noqa: F401
from tests.factories import (
    CustomerFactory,
    ProductCategoryFactory,
    ProductFactory,
    PurchaseFactory,
)

pytestmark = pytest.mark.usefixtures("recording_backend")

DAY = dt.date(2026, 3, 2)


def purchase_ending(
    ends_on: dt.date, *, field: str = "warranty_ends_on", **kwargs: object
) -> Purchase:
    """A purchase whose term of `field` ends on `ends_on` (set directly, as an import would)."""
    purchase = PurchaseFactory.create(**kwargs)
    terms: dict[str, dt.date | None] = dict.fromkeys(
        ("warranty_ends_on", "support_ends_on", "subscription_ends_on")
    )
    terms[field] = ends_on
    Purchase.objects.filter(pk=purchase.pk).update(**terms)
    purchase.refresh_from_db()
    return purchase


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("days_ahead", "expected"), [(30, 1), (29, 0), (31, 0), (7, 1), (6, 0), (8, 0)]
)
def test_reminder_is_due_exactly_on_a_lead_day(days_ahead: int, expected: int) -> None:
    purchase_ending(DAY + dt.timedelta(days=days_ahead))
    assert len(due_reminders(on=DAY)) == expected


@pytest.mark.django_db
def test_each_kind_counts_down_to_its_own_term() -> None:
    warranty = purchase_ending(DAY + dt.timedelta(days=30))
    support = purchase_ending(DAY + dt.timedelta(days=7), field="support_ends_on")
    renewal = purchase_ending(DAY + dt.timedelta(days=14), field="subscription_ends_on")
    kinds = {(r.purchase_id, r.kind, r.ends_on) for r in due_reminders(on=DAY)}
    assert kinds == {
        (warranty.pk, "warranty", DAY + dt.timedelta(days=30)),
        (support.pk, "support", DAY + dt.timedelta(days=7)),
        (renewal.pk, "renewal", DAY + dt.timedelta(days=14)),
    }


@pytest.mark.django_db
def test_category_override_replaces_the_site_lead_times() -> None:
    category = ProductCategoryFactory.create(reminder_lead_days={"warranty": [10]})
    product = ProductFactory.create(category=category)
    overridden = purchase_ending(DAY + dt.timedelta(days=10), product=product)
    purchase_ending(DAY + dt.timedelta(days=30), product=product)
    site_default = purchase_ending(DAY + dt.timedelta(days=30))
    purchase_ending(DAY + dt.timedelta(days=10))
    due = {r.purchase_id for r in due_reminders(on=DAY)}
    assert due == {overridden.pk, site_default.pk}


@pytest.mark.django_db
def test_an_empty_category_list_turns_the_reminder_off() -> None:
    category = ProductCategoryFactory.create(reminder_lead_days={"warranty": []})
    purchase_ending(DAY + dt.timedelta(days=30), product=ProductFactory.create(category=category))
    assert due_reminders(on=DAY) == []


def test_lead_days_fall_back_to_the_site_for_kinds_the_category_does_not_name(settings) -> None:
    settings.REMINDER_LEAD_DAYS = {"warranty": [30, 7], "support": [5]}
    assert lead_days_for("support", {"warranty": [1]}) == {5}
    assert lead_days_for("warranty", {"warranty": [1]}) == {1}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    [["30"], {"warranty": "30"}, {"warranty": [-1]}, {"guarantee": [30]}, {"warranty": [True]}],
)
def test_bad_category_lead_times_are_refused_with_a_field_error(value: object) -> None:
    category = ProductCategoryFactory.build(reminder_lead_days=value)
    with pytest.raises(ValidationError) as info:
        category.full_clean()
    assert "reminder_lead_days" in info.value.message_dict


@pytest.mark.django_db
def test_a_month_end_term_is_reminded_a_week_before_the_clamped_end() -> None:
    # 31 January + 1 month = 28 February (clamped); a week before is 21 February.
    product = ProductFactory.create(warranty_months=1)
    PurchaseFactory.create(product=product, purchased_at=moscow(2026, 1, 31, 12, 0))
    assert [r.ends_on for r in due_reminders(on=dt.date(2026, 2, 21))] == [dt.date(2026, 2, 28)]
    assert due_reminders(on=dt.date(2026, 2, 22)) == []


@pytest.mark.django_db
def test_the_purchase_day_is_the_site_day_not_the_utc_day() -> None:
    # 22:30 UTC on 31 January is already 1 February in Moscow: the term ends on 1 March.
    product = ProductFactory.create(warranty_months=1)
    PurchaseFactory.create(
        product=product, purchased_at=dt.datetime(2026, 1, 31, 22, 30, tzinfo=dt.UTC)
    )
    assert [r.ends_on for r in due_reminders(on=dt.date(2026, 2, 22))] == [dt.date(2026, 3, 1)]
    assert due_reminders(on=dt.date(2026, 2, 21)) == []


@pytest.mark.django_db
def test_refunded_purchases_and_anonymised_customers_get_no_reminder() -> None:
    purchase_ending(DAY + dt.timedelta(days=7), status=Purchase.Status.REFUNDED)
    purchase_ending(DAY + dt.timedelta(days=7), status=Purchase.Status.CANCELLED)
    purchase_ending(
        DAY + dt.timedelta(days=7), customer=CustomerFactory.create(anonymised_at=timezone.now())
    )
    assert due_reminders(on=DAY) == []


@pytest.mark.django_db
def test_creating_twice_gives_each_reminder_once() -> None:
    purchase = purchase_ending(DAY + dt.timedelta(days=7))
    first = create_due_reminders(on=DAY)
    second = create_due_reminders(on=DAY)
    assert (first.created, second.created) == (1, 0)
    assert first.pending_ids == second.pending_ids
    reminder = Reminder.objects.get()
    assert (reminder.purchase_id, reminder.due_on, reminder.kind) == (purchase.pk, DAY, "warranty")
    assert reminder.channel == purchase.customer.preferred_channel


@pytest.mark.django_db
def test_the_selection_runs_in_a_bounded_number_of_queries(
    django_assert_max_num_queries,
) -> None:
    for _ in range(5):
        purchase_ending(DAY + dt.timedelta(days=7))
    with django_assert_max_num_queries(12):
        result = create_due_reminders(on=DAY)
    assert result.created == 5


def test_the_lead_time_check_knows_every_reminder_kind_that_counts_down() -> None:
    from customers.lead_days import LEAD_DAY_KINDS
    from customers.reminders import END_FIELD_BY_KIND

    assert set(END_FIELD_BY_KIND) == LEAD_DAY_KINDS
