"""Long notes: a paste over the limit is a form error, and every note can be read in full."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.forms import NOTE_MAX_LENGTH
from customers.models import Customer, Interaction
from customers.services import add_note
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def operator_client(client: Client, operator: User) -> Client:
    client.force_login(operator)
    return client


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(full_name="Anna Ivanova")


def test_a_paste_over_the_limit_is_a_form_error_not_a_silent_cut(
    operator_client: Client, customer: Customer
) -> None:
    response = operator_client.post(
        reverse("customers:add_note", args=[customer.pk]), {"text": "x" * 10_000}, headers=HTMX
    )

    assert response.status_code == 422
    assert "at most 4000 characters (it has 10000)" in response.text
    assert not Interaction.objects.filter(customer=customer).exists()


@pytest.mark.parametrize("name", ["customers:add_note", "customers:log_contact"])
def test_the_text_area_does_not_let_the_browser_cut_a_paste(
    operator_client: Client, customer: Customer, name: str
) -> None:
    response = operator_client.get(reverse(name, args=[customer.pk]), headers=HTMX)

    assert response.status_code == 200
    assert "<textarea" in response.text and "maxlength" not in response.text


def test_a_note_at_the_limit_is_kept_whole(operator_client: Client, customer: Customer) -> None:
    text = "y" * NOTE_MAX_LENGTH
    response = operator_client.post(
        reverse("customers:add_note", args=[customer.pk]), {"text": text}, headers=HTMX
    )

    assert response.status_code == 200
    assert Interaction.objects.get(customer=customer).summary == text


@pytest.mark.parametrize("name", ["customers:card", "customers:timeline"])
def test_a_long_note_can_be_read_in_full_on_the_card_and_the_timeline(
    operator_client: Client, customer: Customer, operator: User, name: str
) -> None:
    text = "The customer explained at length. " * 30 + "THE-LAST-WORDS"
    add_note(customer=customer, actor=operator, text=text)

    page = operator_client.get(reverse(name, args=[customer.pk])).text

    assert "THE-LAST-WORDS" in page
    assert '<details class="full-text">' in page


def test_a_short_note_is_shown_as_it_is(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    add_note(customer=customer, actor=operator, text="Prefers calls after six")

    page = operator_client.get(reverse("customers:card", args=[customer.pk])).text

    assert "Prefers calls after six" in page and "full-text" not in page
