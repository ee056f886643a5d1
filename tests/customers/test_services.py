"""Customer writes: creating a customer with contacts (all or nothing) and choosing a primary."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from customers.models import ContactPoint, Customer
from customers.services import add_contact_points, create_customer, set_primary_contact
from tests.factories import EmailFactory, PhoneFactory

pytestmark = pytest.mark.django_db


def _primary_values(customer: Customer) -> dict[str, str]:
    return dict(
        customer.contact_points.filter(is_primary=True).values_list("kind", "normalised_value")
    )


def test_creating_a_customer_stores_every_contact_normalised() -> None:
    customer = create_customer(
        full_name="Anna Ivanova",
        contact_points=[
            {"kind": "phone", "value": "8 (912) 345-67-89"},
            {"kind": "email", "value": "Anna@Example.com"},
            {"kind": "messenger", "messenger": "telegram", "value": "@Anna_Ivanova"},
        ],
    )

    assert Customer.objects.get().full_name == "Anna Ivanova"
    assert sorted(customer.contact_points.values_list("kind", "normalised_value")) == [
        ("email", "anna@example.com"),
        ("messenger", "anna_ivanova"),
        ("phone", "+79123456789"),
    ]


def test_the_first_contact_of_each_kind_becomes_primary() -> None:
    customer = create_customer(
        full_name="Anna Ivanova",
        contact_points=[
            {"kind": "phone", "value": "+7 912 345-67-89"},
            {"kind": "email", "value": "anna@example.com"},
            {"kind": "phone", "value": "+7 912 000-11-22"},
            {"kind": "email", "value": "anna@work.example.com"},
        ],
    )

    assert _primary_values(customer) == {
        "phone": "+79123456789",
        "email": "anna@example.com",
    }
    assert customer.contact_points.filter(is_primary=False).count() == 2


def test_a_contact_marked_primary_wins_over_the_first_of_its_kind() -> None:
    customer = create_customer(
        full_name="Anna Ivanova",
        contact_points=[
            {"kind": "phone", "value": "+7 912 345-67-89"},
            {"kind": "phone", "value": "+7 912 000-11-22", "is_primary": True},
        ],
    )

    assert _primary_values(customer) == {"phone": "+79120001122"}


def test_a_bad_phone_names_its_item_and_nothing_is_written() -> None:
    with pytest.raises(ValidationError) as caught:
        create_customer(
            full_name="Anna Ivanova",
            contact_points=[
                {"kind": "email", "value": "anna@example.com"},
                {"kind": "phone", "value": "8 (912) 345"},
            ],
        )

    assert set(caught.value.message_dict) == {"contact_points[1].value"}
    assert not Customer.objects.exists()
    assert not ContactPoint.objects.exists()


def test_every_bad_item_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        create_customer(
            full_name="Anna Ivanova",
            contact_points=[
                {"kind": "phone", "value": "abc"},
                {"kind": "phone", "value": "+7 912 345-67-89"},
                {"kind": "email", "value": "anna@"},
            ],
        )

    assert set(caught.value.message_dict) == {
        "contact_points[0].value",
        "contact_points[2].value",
    }
    assert not Customer.objects.exists()


def test_one_number_given_twice_in_two_spellings_names_the_repeat() -> None:
    with pytest.raises(ValidationError) as caught:
        create_customer(
            full_name="Anna Ivanova",
            contact_points=[
                {"kind": "phone", "value": "+7 912 345-67-89"},
                {"kind": "phone", "value": "8 912 345 67 89"},
            ],
        )

    assert set(caught.value.message_dict) == {"contact_points[1].value"}
    assert not Customer.objects.exists()
    assert not ContactPoint.objects.exists()


def test_a_blank_name_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValidationError) as caught:
        create_customer(full_name="", contact_points=[{"kind": "phone", "value": "+79123456789"}])

    assert "full_name" in caught.value.message_dict
    assert not ContactPoint.objects.exists()


def test_adding_a_phone_to_a_customer_with_a_primary_phone_keeps_that_primary() -> None:
    existing = PhoneFactory.create(value="+7 912 345-67-89", is_primary=True)

    (added,) = add_contact_points(
        customer=existing.customer, contact_points=[{"kind": "phone", "value": "+79120001122"}]
    )

    assert not added.is_primary
    assert _primary_values(existing.customer) == {"phone": "+79123456789"}


def test_making_a_contact_primary_demotes_the_previous_primary() -> None:
    old = PhoneFactory.create(value="+7 912 345-67-89", is_primary=True)
    new = PhoneFactory.create(customer=old.customer, value="+7 912 000-11-22", is_primary=False)
    email = EmailFactory.create(customer=old.customer, is_primary=True)

    set_primary_contact(contact=new)

    old.refresh_from_db()
    new.refresh_from_db()
    email.refresh_from_db()
    assert (old.is_primary, new.is_primary) == (False, True)
    assert email.is_primary  # another kind keeps its primary


def test_making_the_primary_contact_primary_again_changes_nothing() -> None:
    primary = PhoneFactory.create(value="+7 912 345-67-89", is_primary=True)

    set_primary_contact(contact=primary)

    primary.refresh_from_db()
    assert primary.is_primary
