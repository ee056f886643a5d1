# ruff: noqa: RUF001 - Russian mail is the point of these tests
"""An operator's public reply leaves by email through a real SMTP server, threaded."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Channel
from email_channel.models import EmailMessage, Mailbox
from email_channel.outbound import send_ticket_reply
from email_channel.services import ingest_email
from tests.delivery_fixtures import eager_celery  # noqa: F401 - fixture
from tests.email_channel.conftest import SmtpSink, corpus, ticket_of
from tests.factories import CustomerFactory
from tickets.models import TicketMessage
from tickets.services import add_message, open_ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]


def test_reply_on_the_ticket_page_is_mailed_with_thread_headers(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))
    client = Client()
    client.force_login(operator)

    response = client.post(
        reverse("tickets:reply", args=[ticket.pk]), {"body": "Счёт отправлен повторно."}
    )

    assert response.status_code in (200, 302)
    sent = smtp_sink.parsed()
    mail_from, rcpt_tos, _raw = smtp_sink.messages[-1]
    assert (mail_from, rcpt_tos) == ("support@example.com", ["petr@mail.ru"])
    assert sent["Subject"] == f"Re: [#{ticket.pk}] Не приходит счёт"
    assert sent["In-Reply-To"] == "<20261201090000.AB12@mail.ru>"
    assert sent["References"] == "<20261201090000.AB12@mail.ru>"
    assert sent["Message-ID"].endswith("@example.com>")
    assert sent.get_content().strip() == "Счёт отправлен повторно."
    record = EmailMessage.objects.get(direction=EmailMessage.Direction.OUTBOUND)
    assert record.status == EmailMessage.Status.SENT
    assert f"<{record.message_id}>" == sent["Message-ID"]
    assert record.attempts == 1
    page = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert 'class="badge delivery-sent ok"' in page


def test_reply_through_the_api_is_mailed_and_cc_kept(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    ticket = ticket_of(ingest_email(corpus("gmail_reply_en.eml"), mailbox=mailbox))
    client = Client()
    client.force_login(operator)

    response = client.post(
        f"/api/v1/tickets/{ticket.pk}/messages/",
        {"body": "We are on it.", "author_kind": "operator"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    sent = smtp_sink.parsed()
    assert sent["To"] == "anna.smith@gmail.com"
    assert sent["Cc"] == "bob@smith.example"
    # The customer's own References chain continues, with their message last.
    assert sent["References"].split() == [
        "<ticket-open-0@example.com>",
        "<ticket-reply-1@example.com>",
        "<CAF=x9k2mQwE+abc123@mail.gmail.com>",
    ]


def test_internal_notes_and_non_email_tickets_send_nothing(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))
    add_message(
        ticket=ticket, body="note", author_kind="operator", author_user=operator, is_internal=True
    )
    phone_ticket = open_ticket(
        customer=CustomerFactory.create(), subject="Call", channel=Channel.PHONE, body="hi"
    )
    add_message(ticket=phone_ticket, body="reply", author_kind="operator", author_user=operator)

    assert smtp_sink.messages == []
    assert not EmailMessage.objects.filter(direction=EmailMessage.Direction.OUTBOUND).exists()


def test_refused_recipient_is_failed_with_the_reason(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))
    smtp_sink.refuse_with = "550 5.1.1 No such user here"

    add_message(ticket=ticket, body="Hello", author_kind="operator", author_user=operator)

    record = EmailMessage.objects.get(direction=EmailMessage.Direction.OUTBOUND)
    assert record.status == EmailMessage.Status.FAILED
    assert "No such user here" in record.failure_reason
    assert smtp_sink.messages == []


def test_temporary_failure_stays_queued_and_is_sent_once_later(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))
    smtp_sink.refuse_with = "451 4.3.0 Try again later"
    add_message(ticket=ticket, body="Hello", author_kind="operator", author_user=operator)
    record = EmailMessage.objects.get(direction=EmailMessage.Direction.OUTBOUND)
    record.refresh_from_db()
    assert (record.status, record.attempts) == (EmailMessage.Status.QUEUED, 1)
    assert "Try again later" in record.failure_reason

    smtp_sink.refuse_with = ""
    assert send_ticket_reply(record.pk).status == EmailMessage.Status.SENT
    assert send_ticket_reply(record.pk).status == "skipped"  # never twice

    assert len(smtp_sink.messages) == 1
    record.refresh_from_db()
    assert (record.status, record.attempts, record.failure_reason) == ("sent", 2, "")


def test_unreachable_server_is_a_temporary_failure(
    mailbox: Mailbox, operator: User, settings: object
) -> None:
    from tests.email_channel.conftest import free_port

    settings.MAILERS = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))

    message = add_message(ticket=ticket, body="Hi", author_kind="operator", author_user=operator)

    record = EmailMessage.objects.get(ticket_message=message)
    assert record.status == EmailMessage.Status.QUEUED
    assert record.attempts == 1


def test_customer_answer_to_our_reply_threads_back(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    ticket = ticket_of(ingest_email(corpus("windows1251_new.eml"), mailbox=mailbox))
    add_message(ticket=ticket, body="Refund approved", author_kind="operator", author_user=operator)
    ours = smtp_sink.parsed()
    answer = (
        f"From: olga.k@rambler.ru\nTo: support@example.com\nSubject: Re: {ours['Subject']}\n"
        f"Message-ID: <answer-1@rambler.ru>\nIn-Reply-To: {ours['Message-ID']}\n"
        f"References: {ours['References']} {ours['Message-ID']}\n"
        "Content-Type: text/plain; charset=utf-8\n\nThank you!\n"
    ).encode()

    result = ingest_email(answer, mailbox=mailbox)

    assert result.ticket_id == ticket.pk
    assert TicketMessage.objects.filter(ticket=ticket).last().body == "Thank you!"  # type: ignore[union-attr]
