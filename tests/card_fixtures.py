"""Customers with a short and a very long history, for the card's query bounds (page and API)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer, Interaction, Purchase
from customers.signals import instance_rows, send_rows_written
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    InterestFactory,
    ProductFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
)
from tickets.models import Status, Ticket, TicketMessage


def build_history(customer: Customer, *, purchases: int, tickets: int, interactions: int) -> None:
    """A customer's history built with bulk_create (purchases and interactions announced as
    bulk writers do): purchases, tickets, interactions, answers."""
    product = ProductFactory.create(warranty_months=12)
    now = timezone.now()
    rows = [
        Purchase(
            customer=customer,
            product=product,
            amount=Decimal("100.00"),
            purchased_at=now - dt.timedelta(days=i + 1),
        )
        for i in range(purchases)
    ]
    for row in rows:
        row.derive_end_dates()
    # Both customers have a warranty about to end, so both cards run the same sections fully.
    rows[0].warranty_ends_on = timezone.localdate() + dt.timedelta(days=10)
    Purchase.objects.bulk_create(rows)
    # As every bulk writer does: what is kept from purchases (the value to date, the
    # per-day summary) follows them.
    send_rows_written(Purchase, instance_rows(rows))
    Ticket.objects.bulk_create(
        Ticket(
            customer=customer,
            subject=f"Ticket {i}",
            channel="phone",
            status=Status.OPEN if i % 2 else Status.RESOLVED,
            created_at=now - dt.timedelta(hours=i + 1),
            resolved_at=None if i % 2 else now - dt.timedelta(hours=i),
        )
        for i in range(tickets)
    )
    TicketMessage.objects.bulk_create(
        TicketMessage(ticket=t, author_kind="customer", body="Hello", channel="phone")
        for t in Ticket.objects.filter(customer=customer)
    )
    calls = Interaction.objects.bulk_create(
        Interaction(
            customer=customer,
            channel="phone",
            direction="inbound",
            summary=f"call {i}",
            started_at=now - dt.timedelta(minutes=i + 1),
        )
        for i in range(interactions)
    )
    send_rows_written(Interaction, instance_rows(calls))
    InterestFactory.create(customer=customer)
    SurveyResponseFactory.create(invitation=SurveyInvitationFactory.create(customer=customer))
    EmailFactory.create(customer=customer)


@pytest.fixture
def small_and_huge(db: None) -> Iterator[tuple[Customer, Customer]]:
    """One customer with 5 purchases; one with 2,000 purchases, 500 tickets, 10,000 interactions."""
    small = CustomerFactory.create()
    build_history(small, purchases=5, tickets=2, interactions=3)
    huge = CustomerFactory.create()
    build_history(huge, purchases=2000, tickets=500, interactions=10_000)
    yield small, huge
