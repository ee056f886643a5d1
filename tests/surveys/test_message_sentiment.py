"""A customer's own words on a ticket, by whatever channel but email (labelled at ingest from
its new text), get the survey comments' sentiment label when they are saved."""

from __future__ import annotations

import pytest

from customers.models import Channel
from tests.factories import CustomerFactory, TicketFactory, UserFactory
from tickets.models import TicketMessage
from tickets.services import add_message, open_ticket

pytestmark = pytest.mark.django_db

ANGRY = "This is terrible, the worst service ever. I am very disappointed and angry."
PLEASED = "Thank you, great help, everything works!"


def test_the_message_a_ticket_opens_with_is_labelled() -> None:
    ticket = open_ticket(
        customer=CustomerFactory.create(), subject="Order", channel=Channel.CHAT, body=ANGRY
    )
    assert ticket.messages.get().sentiment == "negative"


def test_a_customer_message_is_labelled_an_operator_reply_is_not() -> None:
    ticket = TicketFactory.create(channel=Channel.CHAT)
    said = add_message(ticket=ticket, body=PLEASED, author_kind=TicketMessage.Author.CUSTOMER)
    replied = add_message(
        ticket=ticket,
        body=ANGRY,
        author_kind=TicketMessage.Author.OPERATOR,
        author_user=UserFactory.create(),
    )
    said.refresh_from_db()
    replied.refresh_from_db()
    assert (said.sentiment, replied.sentiment) == ("positive", "")


def test_email_is_left_to_the_ingest_and_a_given_label_is_kept() -> None:
    ticket = TicketFactory.create(channel=Channel.EMAIL)
    mailed = add_message(
        ticket=ticket,
        body=f"Thanks\n\nOn Monday you wrote:\n> {ANGRY}",
        author_kind=TicketMessage.Author.CUSTOMER,
        channel=Channel.EMAIL,
    )
    mailed.refresh_from_db()
    assert mailed.sentiment == ""
    given = TicketMessage.objects.create(
        ticket=ticket, author_kind="customer", body=ANGRY, channel=Channel.CHAT, sentiment="neutral"
    )
    given.refresh_from_db()
    assert given.sentiment == "neutral"
