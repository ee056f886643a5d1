"""Fixtures of the email channel: the support mailbox, the corpus, a ticket we already answered."""

from __future__ import annotations

import email
import email.policy
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from imapclient import IMAPClient
from pytest_django.fixtures import Settings

from customers.models import Channel
from email_channel.models import EmailMessage, Mailbox
from email_channel.services import IngestResult
from tests import dovecot as dovecot_server
from tests.factories import CustomerFactory, EmailFactory
from tickets.models import Ticket
from tickets.services import add_message, open_ticket

CORPUS = Path(__file__).parent / "corpus"
# The Message-ID of the reply the corpus' answers point at (In-Reply-To / References).
OUR_REPLY_ID = "ticket-reply-1@example.com"


def ticket_of(result: IngestResult) -> Ticket:
    """The ticket an ingest landed on (failing the test when there is none)."""
    assert result.ticket_id is not None, result
    return Ticket.objects.get(pk=result.ticket_id)


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
    # The reply was recorded for sending (tests/email_channel/test_outbound.py sends it); here
    # it stands for one the SMTP server took, under the id the corpus answers point at.
    sent = EmailMessage.objects.filter(ticket_message=reply)
    assert sent.update(message_id=OUR_REPLY_ID, delivery_status="sent", sent_at=timezone.now()) == 1
    return ticket


class SmtpSink:
    """aiosmtpd handler that keeps every message the product hands to the SMTP server."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse_with: str = ""  # e.g. "451 4.3.0 try later" or "550 5.1.1 no such user"

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1) -> MimeMessage:
        raw = self.messages[index][2]
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, MimeMessage)
        return message


@pytest.fixture
def smtp_sink(settings: Settings) -> Iterator[SmtpSink]:
    """A real SMTP server on a loopback port, and the product's mailer pointed at it."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = dovecot_server.free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    try:
        yield sink
    finally:
        controller.stop()


@dataclass(frozen=True)
class Dovecot:
    host: str
    port: int

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user, dovecot_server.PASSWORD)
        return client

    def append(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client(user)
        try:
            for raw in messages:
                client.append(folder, raw)
        finally:
            client.logout()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A real Dovecot: the one .ci/run or `make dovecot` started (DOVECOT_TEST_ADDRESS=host:port),
    or a private instance for this test session."""
    address = os.environ.get("DOVECOT_TEST_ADDRESS", "")
    if address:
        host, given_port = address.rsplit(":", 1)
        yield Dovecot(host, int(given_port))
        return
    # Straight under /tmp: Dovecot's mail user must be able to reach it (pytest's are 0700).
    directory = tempfile.mkdtemp(prefix="crm-dovecot-")
    port = dovecot_server.start(directory)
    try:
        yield Dovecot("127.0.0.1", port)
    finally:
        dovecot_server.stop(directory)


@pytest.fixture
def imap_mailbox(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, db: None) -> Mailbox:
    """The support mailbox polling its own, empty, Dovecot account."""
    monkeypatch.setenv("CRM_TEST_IMAP_PASSWORD", dovecot_server.PASSWORD)
    return Mailbox.objects.create(
        name="support",
        address="support@example.com",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_tls=False,
        imap_user=f"support-{uuid.uuid4().hex[:12]}",
        imap_secret_env="CRM_TEST_IMAP_PASSWORD",
    )
