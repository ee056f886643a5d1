# ruff: noqa: RUF001 - Russian mail is the point of these tests
"""An operator's public reply leaves by email through a real SMTP server, threaded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.outbox.engine import (
    Outcome,
    claim_due,
    deliver,
    deliver_claimed,
    recover_expired_claims,
)
from customers.models import Channel
from email_channel.models import EmailMessage, Mailbox
from email_channel.outbound import KIND
from email_channel.services import ingest_email
from tests.delivery_fixtures import eager_celery  # noqa: F401 - fixture
from tests.email_channel.conftest import SmtpSink, corpus, ticket_of
from tests.factories import CustomerFactory
from tickets.models import TicketMessage
from tickets.services import add_message, open_ticket

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("eager_celery"),
]


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
    assert record.delivery_status == "sent" and record.sent_at is not None
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
    assert (record.delivery_status, record.attempts) == ("failed", 1)
    assert "No such user here" in record.last_error
    assert smtp_sink.messages == []
    client = Client()
    client.force_login(operator)
    page = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert 'class="badge delivery-failed bad"' in page and "No such user here" in page


def test_temporary_failure_stays_queued_and_is_sent_once_later(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))
    smtp_sink.refuse_with = "451 4.3.0 Try again later"
    add_message(ticket=ticket, body="Hello", author_kind="operator", author_user=operator)
    record = EmailMessage.objects.get(direction=EmailMessage.Direction.OUTBOUND)
    assert (record.delivery_status, record.attempts) == ("pending", 1)
    assert "Try again later" in record.last_error
    assert record.next_attempt_at is not None  # backed off, not retried at once
    assert deliver(KIND, record.pk).status == "deferred"

    smtp_sink.refuse_with = ""
    later = record.next_attempt_at + dt.timedelta(seconds=1)
    assert deliver(KIND, record.pk, now=later).status == "sent"
    assert deliver(KIND, record.pk, now=later).status == "not_claimed"  # never twice

    assert len(smtp_sink.messages) == 1
    record.refresh_from_db()
    assert (record.delivery_status, record.attempts) == ("sent", 2)


def test_unreachable_server_is_a_temporary_failure(
    mailbox: Mailbox, operator: User, settings: object
) -> None:
    from tests.dovecot import free_port

    settings.MAILERS = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))

    message = add_message(ticket=ticket, body="Hi", author_kind="operator", author_user=operator)

    record = EmailMessage.objects.get(ticket_message=message)
    assert (record.delivery_status, record.attempts) == ("pending", 1)
    assert record.last_error and record.next_attempt_at is not None


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


# The outbox's rules for this kind (tests/core/test_outbox.py has them for the other kinds).


def queued_reply(mailbox: Mailbox, operator: User, smtp_sink: SmtpSink) -> EmailMessage:
    """A reply recorded for sending whose task has not run yet (the server refused it once,
    then the refusal is lifted and the back-off wiped, so the row is pending and due now)."""
    ticket = ticket_of(ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox))
    smtp_sink.refuse_with = "451 4.3.0 Try again later"
    add_message(ticket=ticket, body="Hello", author_kind="operator", author_user=operator)
    smtp_sink.refuse_with = ""
    record = EmailMessage.objects.get(direction=EmailMessage.Direction.OUTBOUND)
    EmailMessage.objects.filter(pk=record.pk).update(attempts=0, next_attempt_at=None)
    return record


def test_ticket_replies_are_an_outbox_kind_over_outbound_mail_only(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    from core.outbox.registry import KINDS

    record = queued_reply(mailbox, operator, smtp_sink)

    assert KINDS[KIND].rows().count() == 1  # the inbound mail is not the outbox's
    assert EmailMessage.objects.get(direction="in").delivery_status == "skipped"
    assert claim_due(KIND, limit=10).ids == (record.pk,)


def test_a_claimed_reply_is_not_sent_again_by_another_worker(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    record = queued_reply(mailbox, operator, smtp_sink)
    claim = claim_due(KIND, limit=10)

    assert deliver(KIND, record.pk).status == Outcome.NOT_CLAIMED  # the task, racing the batch
    assert smtp_sink.messages == []
    assert [o.status for o in deliver_claimed(claim)] == [Outcome.SENT]
    assert claim_due(KIND, limit=10).ids == ()
    assert deliver(KIND, record.pk).status == Outcome.NOT_CLAIMED

    assert len(smtp_sink.messages) == 1
    record.refresh_from_db()
    assert (record.delivery_status, record.attempts, record.claim_token) == ("sent", 1, None)


def test_a_dead_workers_reply_goes_once_with_the_same_message_id(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink, settings: object
) -> None:
    record = queued_reply(mailbox, operator, smtp_sink)
    now = timezone.now()
    dead = claim_due(KIND, limit=10, now=now)
    later = now + dt.timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS + 1)  # type: ignore[attr-defined]

    assert recover_expired_claims(KIND, now=later) == 1
    assert [o.status for o in deliver_claimed(claim_due(KIND, limit=10, now=later), now=later)] == [
        Outcome.SENT
    ]
    assert [o.status for o in deliver_claimed(dead, now=later)] == [Outcome.NOT_CLAIMED]

    assert len(smtp_sink.messages) == 1
    assert smtp_sink.parsed()["Message-ID"] == f"<{record.message_id}>"


def test_a_4xx_is_retried_until_the_last_attempt_then_failed_with_the_reason(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink, settings: object
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 3  # type: ignore[attr-defined]
    record = queued_reply(mailbox, operator, smtp_sink)
    smtp_sink.refuse_with = "452 4.2.2 Mailbox full"
    now = timezone.now()

    outcomes = []
    for _ in range(3):
        outcome = deliver(KIND, record.pk, now=now)
        outcomes.append(outcome.status)
        now = (outcome.retry_at or now) + dt.timedelta(seconds=1)

    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED]
    record.refresh_from_db()
    assert (record.delivery_status, record.attempts) == ("failed", 3)
    assert "Mailbox full" in record.last_error and record.delivery_badge == "failed"
    assert smtp_sink.messages == []


def test_a_reply_with_no_address_is_failed_without_an_attempt(
    mailbox: Mailbox, operator: User, smtp_sink: SmtpSink
) -> None:
    record = queued_reply(mailbox, operator, smtp_sink)
    EmailMessage.objects.filter(pk=record.pk).update(to_addresses=[])

    assert deliver(KIND, record.pk).status == Outcome.FAILED
    record.refresh_from_db()
    assert (record.delivery_status, record.attempts) == ("failed", 0)
    assert record.last_error == "The customer has no email address."
