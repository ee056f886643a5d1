"""The customers admin: search by any spelling of a contact, lists, actions, the contact inline."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client

from accounts.models import User
from customers.admin import RECENT_PURCHASES_SHOWN
from customers.models import ContactPoint, Customer, Purchase
from tests.admin_fixtures import (
    FEW,
    MANY,
    admin_search,
    admin_url,
    count_change_page_queries,
    form_data,
    form_errors,
)
from tests.factories import CustomerFactory, PhoneFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


def test_customer_page_queries_do_not_grow_with_history(
    admin_client_: Client, django_assert_max_num_queries: Any
) -> None:
    customer = CustomerFactory.create()
    url = admin_url(Customer, "change", customer.pk)

    def add_history(n: int) -> None:
        for _ in range(n):
            PurchaseFactory.create(customer=customer)
            PhoneFactory.create(customer=customer, is_primary=False)

    add_history(FEW)
    few, _response = count_change_page_queries(admin_client_, url, django_assert_max_num_queries)
    add_history(MANY - FEW)
    many, response = count_change_page_queries(admin_client_, url, django_assert_max_num_queries)

    assert many == few
    purchases = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is Purchase
    )
    # Only the latest purchases are on the page; the link leads to the rest.
    assert len(purchases.forms) == RECENT_PURCHASES_SHOWN
    newest = Purchase.objects.filter(customer=customer).order_by("-purchased_at", "-id")[0]
    assert purchases.forms[0].instance == newest
    assert f"?customer__id__exact={customer.pk}" in response.content.decode()


@pytest.fixture
def anna() -> Customer:
    """A customer with a phone and an email, beside another customer who must not match."""
    other = CustomerFactory.create(full_name="Boris Petrov", external_id="C-888")
    ContactPoint.objects.create(customer=other, kind="phone", value="+7 912 000-00-01")
    ContactPoint.objects.create(customer=other, kind="email", value="boris@example.com")
    customer = CustomerFactory.create(full_name="Anna Ivanova", external_id="C-777")
    ContactPoint.objects.create(
        customer=customer, kind="phone", value="8 912 345 67 89", is_primary=True
    )
    ContactPoint.objects.create(
        customer=customer, kind="email", value="Anna.Ivanova@Example.com", is_primary=True
    )
    return customer


@pytest.mark.parametrize(
    "spelling", ["+7 912 345-67-89", "8 (912) 345-67-89", "79123456789", "+79123456789"]
)
def test_customer_search_finds_a_phone_in_any_spelling(
    admin_client_: Client, anna: Customer, spelling: str
) -> None:
    assert admin_search(admin_client_, Customer, spelling) == [anna]


@pytest.mark.parametrize(
    "term", ["ANNA.IVANOVA@EXAMPLE.COM", "anna.ivanova@example.com", "C-777", "Ivanova"]
)
def test_customer_search_finds_email_in_any_case_external_id_and_name(
    admin_client_: Client, anna: Customer, term: str
) -> None:
    assert admin_search(admin_client_, Customer, term) == [anna]


def test_customer_search_by_unknown_phone_finds_nobody(
    admin_client_: Client, anna: Customer
) -> None:
    assert admin_search(admin_client_, Customer, "+7 912 999-99-99") == []


def test_contact_point_search_finds_a_phone_in_any_spelling(
    admin_client_: Client, anna: Customer
) -> None:
    found = admin_search(admin_client_, ContactPoint, "8 (912) 345-67-89")
    assert [(c.customer_id, c.normalised_value) for c in found] == [(anna.pk, "+79123456789")]


def test_customer_list_shows_primary_contacts_and_completed_purchases(
    admin_client_: Client, anna: Customer
) -> None:
    PurchaseFactory.create(customer=anna, amount=Decimal("100.00"))
    PurchaseFactory.create(customer=anna, amount=Decimal("250.50"))
    PurchaseFactory.create(customer=anna, amount=Decimal("999.00"), status=Purchase.Status.REFUNDED)
    response = admin_client_.get(admin_url(Customer, "changelist"), {"q": "C-777"})
    page = response.content.decode()
    assert "+7 912 345-67-89" in page
    assert "anna.ivanova@example.com" in page
    (row,) = response.context["cl"].result_list
    assert row.completed_purchase_count == 2
    assert row.default_currency_revenue == Decimal("350.50")


def test_lifecycle_action_marks_customers_and_logs_it(
    admin_client_: Client, admin_user: User, anna: Customer
) -> None:
    response = admin_client_.post(
        admin_url(Customer, "changelist"),
        {"action": "mark_churned", "_selected_action": [anna.pk]},
        follow=True,
    )
    assert response.status_code == 200
    anna.refresh_from_db()
    assert anna.lifecycle == Customer.Lifecycle.CHURNED
    assert LogEntry.objects.filter(
        user=admin_user, object_id=str(anna.pk), action_flag=CHANGE
    ).exists()
    assert Customer.objects.exclude(pk=anna.pk).get().lifecycle == Customer.Lifecycle.ACTIVE


def test_new_contact_in_the_customer_form_becomes_primary_of_its_kind(
    admin_client_: Client,
) -> None:
    customer = CustomerFactory.create()
    url = admin_url(Customer, "change", customer.pk)
    data = form_data(admin_client_.get(url))
    data.update(
        {
            "contact_points-TOTAL_FORMS": 1,
            "contact_points-0-kind": "phone",
            "contact_points-0-value": "8 (912) 345-67-89",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302, form_errors(response)
    contact = customer.contact_points.get()
    assert (contact.normalised_value, contact.is_primary) == ("+79123456789", True)


def test_one_number_spelled_twice_in_the_customer_form_is_an_error(
    admin_client_: Client,
) -> None:
    customer = CustomerFactory.create()
    url = admin_url(Customer, "change", customer.pk)
    data = form_data(admin_client_.get(url))
    data.update(
        {
            "contact_points-TOTAL_FORMS": 2,
            "contact_points-0-kind": "phone",
            "contact_points-0-value": "8 (912) 345-67-89",
            "contact_points-1-kind": "phone",
            "contact_points-1-value": "+7 912 345 67 89",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    (contacts,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is ContactPoint
    ]
    assert contacts.errors[1] == {"value": ["This contact is given twice."]}
    assert not customer.contact_points.exists()


def test_two_new_primary_phones_in_the_customer_form_are_an_error(
    admin_client_: Client,
) -> None:
    customer = CustomerFactory.create()
    url = admin_url(Customer, "change", customer.pk)
    data = form_data(admin_client_.get(url))
    data["contact_points-TOTAL_FORMS"] = 2
    for index, number in enumerate(["+7 912 345-67-89", "+7 912 345-67-90"]):
        data[f"contact_points-{index}-kind"] = "phone"
        data[f"contact_points-{index}-value"] = number
        data[f"contact_points-{index}-is_primary"] = "on"
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    (contacts,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is ContactPoint
    ]
    assert contacts.errors[1] == {"is_primary": ["Only one contact of each kind can be primary."]}
    assert not customer.contact_points.exists()
