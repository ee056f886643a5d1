"""The ticket page says how the claimed purchase stands under warranty; the card's terms count days
in words a person reads ("today", "tomorrow")."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.models import Purchase
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory
from tickets.services import open_ticket

pytestmark = pytest.mark.django_db


def _client(user: User, language: str = "en") -> Client:
    user.language = language
    user.save()
    client = Client()
    client.force_login(user)
    return client


def _claim(*, bought_days_ago: int, warranty_months: int) -> int:
    customer = CustomerFactory.create()
    purchase = PurchaseFactory.create(
        customer=customer,
        product=ProductFactory.create(name="Kettle", warranty_months=warranty_months),
        purchased_at=timezone.now() - dt.timedelta(days=bought_days_ago),
    )
    ticket = open_ticket(
        customer=customer, subject="It leaks", channel="phone", body="Leaks", purchase=purchase
    )
    return ticket.pk


def _warranty_badge(text: str) -> str:
    start = text.index("warranty-state")
    return text[start : text.index("</span>", start)]


def test_a_claim_on_an_ended_warranty_is_flagged(operator: User) -> None:
    ticket_id = _claim(bought_days_ago=400, warranty_months=12)
    ends_on = Purchase.objects.get().warranty_ends_on
    assert ends_on is not None

    text = _client(operator).get(reverse("tickets:detail", args=[ticket_id])).text

    badge = _warranty_badge(text)
    assert "badge bad" in text[text.index("warranty-state") - 30 : text.index("warranty-state")]
    assert f"warranty ended on {ends_on:%m/%d/%Y}" in badge


def test_a_claim_under_warranty_says_until_when(operator: User) -> None:
    ticket_id = _claim(bought_days_ago=30, warranty_months=12)

    badge = _warranty_badge(
        _client(operator, "ru").get(reverse("tickets:detail", args=[ticket_id])).text
    )

    assert "гарантия до" in badge.lower()


def test_a_claim_on_a_purchase_without_warranty_says_so(operator: User) -> None:
    ticket_id = _claim(bought_days_ago=30, warranty_months=0)

    badge = _warranty_badge(_client(operator).get(reverse("tickets:detail", args=[ticket_id])).text)

    assert "no warranty" in badge


@pytest.mark.parametrize(
    ("days", "language", "expected"),
    [
        (0, "en", "expires today"),
        (1, "en", "expires tomorrow"),
        (5, "en", "expires in 5 days"),
        (0, "ru", "истекает сегодня"),
        (1, "ru", "истекает завтра"),
        (2, "ru", "истекает через 2 дня"),
        (5, "ru", "истекает через 5 дней"),
    ],
)
def test_a_term_ending_soon_reads_in_words(
    operator: User, days: int, language: str, expected: str
) -> None:
    purchase = PurchaseFactory.create(product=ProductFactory.create(warranty_months=0))
    Purchase.objects.filter(pk=purchase.pk).update(
        support_ends_on=timezone.localdate() + dt.timedelta(days=days)
    )

    text = (
        _client(operator, language).get(reverse("customers:card", args=[purchase.customer_id])).text
    )

    assert expected in " ".join(text.split())
    assert not re.search(r"\b(in|через) 0 ", text)
