"""The purchase and timeline rows of the card and of their lists, as the operator reads them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.models import Channel, Customer, Interaction, Purchase, Reminder, SalesChannel
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db: None) -> Customer:
    return CustomerFactory.create()


def page(client: Client, operator: User, name: str, customer: Customer) -> str:
    client.force_login(operator)
    return client.get(reverse(name, args=[customer.pk])).content.decode()


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def with_terms(purchase: Purchase, **ends: dt.date) -> None:
    """Terms as a product's months would have set them (the model derives them on save)."""
    Purchase.objects.filter(pk=purchase.pk).update(
        **{f"{kind}_ends_on": day for kind, day in ends.items()}
    )


def purchase_rows(html: str) -> list[str]:
    body = html[html.index('id="section-purchases"') :] if "section-purchases" in html else html
    return re.findall(r"<tr>\s*<td>.*?</tr>", body, re.S)


def test_a_purchase_row_shows_product_quantity_status_day_channel_amount_and_terms(
    client: Client, operator: User, customer: Customer
) -> None:
    today = timezone.localdate()
    purchase = PurchaseFactory.create(
        customer=customer,
        product=ProductFactory.create(name="Kettle <Pro>"),
        quantity=3,
        amount=Decimal("19990.50"),
        currency="RUB",
        channel=SalesChannel.RETAIL,
        status=Purchase.Status.REFUNDED,
        purchased_at=timezone.make_aware(dt.datetime(2026, 3, 5, 23, 30)),
    )
    with_terms(purchase, warranty=today + dt.timedelta(days=400), support=today - dt.timedelta(3))

    (row,) = purchase_rows(page(client, operator, "customers:purchases", customer))

    assert "Kettle &lt;Pro&gt;" in row
    assert '<span class="muted">\u00d7 3</span>' in row
    assert '<span class="badge bad">Refunded</span>' in row
    assert "03/05/2026 · Retail store" in text(row)
    assert "19,990.50\u00a0RUB" in row
    ends = (today + dt.timedelta(days=400)).strftime("%m/%d/%Y")
    assert f'<span class="badge ok" title="Warranty: {ends}">Warranty until {ends}</span>' in row
    assert "Support ended" in text(row)


def test_an_unnamed_expiring_purchase_with_its_reminders_in_russian(
    client: Client, operator: User, customer: Customer
) -> None:
    today = timezone.localdate()
    purchase = PurchaseFactory.create(customer=customer, product=None)
    with_terms(purchase, warranty=today + dt.timedelta(days=5))
    ReminderFactory.create(purchase=purchase, due_on=today + dt.timedelta(days=2))
    ReminderFactory.create(
        purchase=purchase,
        kind=Reminder.Kind.WARRANTY,
        due_on=today - dt.timedelta(days=25),
        delivery_status="sent",
        sent_at=timezone.now() - dt.timedelta(days=25),
        channel="sms",
    )
    operator.language = "ru"
    operator.save()

    html = page(client, operator, "customers:card", customer)
    expiring = purchase_rows(html)[0]

    assert '<span class="muted">Товар не указан</span>' in expiring
    assert "Гарантия истекает через 5 дней" in text(expiring)
    sent = (timezone.localdate() - dt.timedelta(days=25)).strftime("%d.%m.%Y")
    due = (today + dt.timedelta(days=2)).strftime("%d.%m.%Y")
    assert f"Напоминание: окончание гарантии, отправлено {sent}, канал: SMS" in text(expiring)
    assert f"срок {due}" in text(expiring)


def timeline_rows(html: str) -> dict[int, str]:
    return {
        int(pk): row
        for pk, row in re.findall(
            r'(?s)(?=<tr class="tl-[a-z]+" data-interaction="(\d+)">)(.*?</tr>)', html
        )
    }


def test_timeline_rows_show_channel_or_kind_direction_abandonment_summary_and_operator(
    client: Client, operator: User, customer: Customer
) -> None:
    operator.first_name, operator.last_name = "Olga", "Smirnova"
    operator.save()
    call = InteractionFactory.create(
        customer=customer,
        summary="Line one\nLine <two>",
        operator=operator,
        personalized=True,
    )
    missed = InteractionFactory.create(
        customer=customer, answered_at=None, summary="", channel=Channel.CHAT
    )
    note = InteractionFactory.create(
        customer=customer,
        kind=Interaction.Kind.NOTE,
        direction=Interaction.Direction.INTERNAL
        if hasattr(Interaction.Direction, "INTERNAL")
        else "",
        summary="x" * 300,
    )

    rows = timeline_rows(page(client, operator, "customers:timeline", customer))

    assert '<span class="badge">Phone</span>' in rows[call.pk]
    assert '<span class="muted" title="Inbound">↙</span>' in rows[call.pk]
    assert "Line one<br>Line &lt;two&gt;" in rows[call.pk]
    assert "Olga Smirnova" in rows[call.pk] and "★" in rows[call.pk]
    assert '<span class="badge">Web chat</span>' in rows[missed.pk]
    assert '<span class="badge bad">abandoned</span>' in rows[missed.pk]
    assert '<td class="summary">—</td>' in rows[missed.pk]
    assert '<span class="badge accent">Note</span>' in rows[note.pk]
    assert '<details class="full-text">' in rows[note.pk] and "Show all" in rows[note.pk]
    assert "★" not in rows[note.pk]


def test_the_cards_timeline_rows_read_in_russian(
    client: Client, operator: User, customer: Customer
) -> None:
    call = InteractionFactory.create(customer=customer, answered_at=None, summary="Перезвонить")
    operator.language = "ru"
    operator.save()

    row = timeline_rows(page(client, operator, "customers:card", customer))[call.pk]

    assert '<span class="badge">Телефон</span>' in row
    assert '<span class="badge bad">потеряно</span>' in row
    when = timezone.localtime(call.started_at).strftime("%d.%m.%Y %H:%M")
    assert when in row


def test_the_expiring_list_holds_each_purchase_once_and_only_the_customers_completed_ones(
    client: Client, operator: User, customer: Customer
) -> None:
    """A purchase whose warranty and subscription both end in the window is one row; a
    refunded one and another customer's are not there."""
    today = timezone.localdate()
    soon = today + dt.timedelta(days=4)
    both = PurchaseFactory.create(customer=customer, product=ProductFactory.create(name="Both"))
    with_terms(both, warranty=soon, subscription=soon + dt.timedelta(days=1))
    refunded = PurchaseFactory.create(
        customer=customer,
        product=ProductFactory.create(name="Refunded one"),
        status=Purchase.Status.REFUNDED,
    )
    with_terms(refunded, support=soon)
    later = PurchaseFactory.create(customer=customer, product=ProductFactory.create(name="Later"))
    with_terms(later, support=today + dt.timedelta(days=200))
    elsewhere = PurchaseFactory.create(product=ProductFactory.create(name="Someone else's"))
    with_terms(elsewhere, warranty=soon)

    html = page(client, operator, "customers:card", customer)
    expiring = html[html.index("warn-title") : html.index("Latest")]

    assert expiring.count("<tr>") == 1 and "Both" in expiring
    assert "Refunded one" not in expiring and "Later" not in expiring
    assert "Someone else" not in html
