"""Opening a ticket from the card: the section refreshes, form errors, foreign ids, roles."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Customer
from tests.factories import CustomerFactory, PurchaseFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(full_name="Anna Ivanova")


def test_a_ticket_is_opened_from_the_card_owned_by_the_operator(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    purchase = PurchaseFactory.create(customer=customer)

    response = operator_client.post(
        reverse("ticket_card:open", args=[customer.pk]),
        {
            "subject": "Does not charge",
            "channel": "phone",
            "priority": "high",
            "body": "Since yesterday",
            "purchase": purchase.pk,
        },
        headers=HTMX,
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get(customer=customer)
    assert ticket.personalized and ticket.assignee == operator and ticket.purchase == purchase
    html = response.content.decode()
    assert 'id="section-tickets"' in html and "Does not charge" in html


def test_a_ticket_for_another_customers_purchase_is_refused(
    operator_client: Client, customer: Customer
) -> None:
    response = operator_client.post(
        reverse("ticket_card:open", args=[customer.pk]),
        {
            "subject": "Does not charge",
            "channel": "phone",
            "priority": "normal",
            "purchase": PurchaseFactory.create().pk,
        },
        headers=HTMX,
    )

    assert response.status_code == 422
    assert not Ticket.objects.exists()


def test_a_ticket_needs_a_subject(operator_client: Client, customer: Customer) -> None:
    response = operator_client.post(
        reverse("ticket_card:open", args=[customer.pk]),
        {"channel": "phone", "priority": "normal"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert not Ticket.objects.exists()


def test_opening_a_ticket_needs_the_role(
    client: Client, integration: User, customer: Customer
) -> None:
    client.force_login(integration)

    response = client.post(
        reverse("ticket_card:open", args=[customer.pk]),
        {"subject": "x", "channel": "phone", "priority": "normal"},
    )

    assert response.status_code == 403
