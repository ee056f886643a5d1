"""Fixtures of the email channel: the support mailbox, the corpus, a ticket we already answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from customers.models import Channel
from email_channel.models import EmailMessage, Mailbox
from tests.factories import CustomerFactory, EmailFactory
from tickets.models import Ticket
from tickets.services import add_message, open_ticket

CORPUS = Path(__file__).parent / "corpus"
# The Message-ID of the reply the corpus' answers point at (In-Reply-To / References).
OUR_REPLY_ID = "ticket-reply-1@example.com"


def corpus(name: str, ticket: Ticket | None = None) -> bytes:
    """A corpus message; "[#TICKET]" in it becomes the given ticket's token."""
    raw = (CORPUS / name).read_bytes()
    if ticket is not None:
        raw = raw.replace(b"TICKET", str(ticket.pk).encode())
    return raw


@pytest.fixture(autouse=True)
def _email_settings(settings: Settings, tmp_path: Path) -> None:
    settings.EMAIL_MESSAGE_ID_DOMAIN = "example.com"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def mailbox(db: None) -> Mailbox:
    return Mailbox.objects.create(name="support", address="support@example.com")


def answered_ticket(mailbox: Mailbox, *, address: str, subject: str = "Printer") -> Ticket:
    """A ticket of the customer at `address` with our reply recorded as sent by email."""
    customer = CustomerFactory.create(full_name="Ivan Petrov")
    EmailFactory.create(customer=customer, value=address)
    ticket = open_ticket(customer=customer, subject=subject, channel=Channel.EMAIL, body="Help")
    reply = add_message(ticket=ticket, body="Try again", author_kind="operator")
    EmailMessage.objects.create(
        mailbox=mailbox,
        direction=EmailMessage.Direction.OUTBOUND,
        status=EmailMessage.Status.SENT,
        message_id=OUR_REPLY_ID,
        ticket=ticket,
        ticket_message=reply,
        subject=subject,
    )
    return ticket
