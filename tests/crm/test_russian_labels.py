"""Labels that stayed English or read ambiguously in Russian: empty choices, message authors."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import CustomerFactory
from tickets.models import TicketMessage
from tickets.services import add_message, open_ticket

pytestmark = pytest.mark.django_db


def _client(user: User, language: str) -> Client:
    user.language = language
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_the_empty_choice_of_a_select_is_russian(admin_user: User) -> None:
    customer = CustomerFactory.create()

    text = (
        _client(admin_user, "ru")
        .get(reverse("admin:customers_customer_change", args=[customer.pk]))
        .text
    )

    assert "Select an option" not in text
    assert "— Выберите —" in text


@pytest.mark.parametrize(
    ("language", "author", "ambiguous"),
    [("en", "Operator, ", "We, "), ("ru", "Оператор, ", "Мы, ")],
)
def test_the_last_reply_on_the_card_names_the_operator_not_a_weekday(
    operator: User, language: str, author: str, ambiguous: str
) -> None:
    customer = CustomerFactory.create()
    ticket = open_ticket(customer=customer, subject="Kettle leaks", channel="phone", body="Hi")
    add_message(
        ticket=ticket,
        body="We will send a courier",
        author_kind=TicketMessage.Author.OPERATOR,
        author_user=operator,
    )

    text = _client(operator, language).get(reverse("customers:card", args=[customer.pk])).text

    line = text[text.index('class="small muted last-message"') :][:300]
    assert author in line and ambiguous not in line
