# ruff: noqa: RUF001 - Russian mail is the point of this module
"""Each corpus message to its expected ticket and text (tests/email_channel/corpus)."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage

import pytest
from pytest_django.fixtures import Settings

from customers.models import AcquisitionChannel, ContactPoint, Customer
from email_channel.models import EmailMessage, Mailbox, QuarantinedEmail
from email_channel.services import ingest_email
from tests.email_channel.conftest import OUR_REPLY_ID, answered_ticket, corpus, ticket_of
from tickets.models import Status, Ticket, TicketAttachment

pytestmark = pytest.mark.django_db


def test_outlook_russian_reply_lands_on_the_ticket_by_in_reply_to(mailbox: Mailbox) -> None:
    ticket = answered_ticket(mailbox, address="ivan.petrov@romashka.ru")

    result = ingest_email(corpus("outlook_reply_ru.eml", ticket), mailbox=mailbox)

    assert result.outcome == "ticket"
    assert result.ticket_id == ticket.pk
    message = ticket.messages.order_by("id").last()
    assert message is not None
    assert message.body == "Добрый день!\n\nПринтер по-прежнему не печатает, ошибка E-05."
    assert message.author_kind == "customer"
    email = message.email
    assert email.quoted_text.startswith("С уважением,\nИван Петров")
    assert "От: Служба поддержки" in email.quoted_text
    assert email.subject == f"RE: [#{ticket.pk}] Принтер не печатает"
    # The sender's address was typed in mixed case: the normalised one found the customer.
    assert Customer.objects.count() == 1


def test_gmail_english_reply_threads_by_references_and_keeps_cc(mailbox: Mailbox) -> None:
    ticket = answered_ticket(mailbox, address="anna.smith@gmail.com")

    result = ingest_email(corpus("gmail_reply_en.eml", ticket), mailbox=mailbox)

    assert result.ticket_id == ticket.pk
    assert result.email is not None
    assert result.email.ticket_message is not None
    assert result.email.ticket_message.body == (
        "Thanks, the replacement arrived today and works fine."
    )
    assert result.email.quoted_text.startswith("On Tue, Dec 1, 2026 at 10:00 AM Support")
    assert result.email.cc_addresses == ["bob@smith.example"]


def test_thunderbird_russian_reply_threads_by_the_subject_token(mailbox: Mailbox) -> None:
    ticket = answered_ticket(mailbox, address="sergey@yandex.ru", subject="Заказ отправлен")

    result = ingest_email(corpus("thunderbird_reply_ru.eml", ticket), mailbox=mailbox)

    assert result.ticket_id == ticket.pk
    assert result.email is not None
    assert result.email.ticket_message is not None
    body = result.email.ticket_message.body
    assert body == "Спасибо, заказ получил. Но в коробке не было гарантийного талона."
    assert "пишет:" in result.email.quoted_text


def test_subject_token_of_another_customers_ticket_opens_a_new_ticket(mailbox: Mailbox) -> None:
    ticket = answered_ticket(mailbox, address="someone.else@example.org")

    result = ingest_email(corpus("thunderbird_reply_ru.eml", ticket), mailbox=mailbox)

    assert result.ticket_id != ticket.pk


def test_koi8r_message_opens_a_ticket_for_a_new_customer(mailbox: Mailbox) -> None:
    result = ingest_email(corpus("koi8r_new.eml"), mailbox=mailbox)

    ticket = ticket_of(result)
    assert ticket.subject == "Не приходит счёт"
    assert ticket.channel == "email"
    assert ticket.messages.get().body == (
        "Здравствуйте!\n\nСчёт за ноябрь так и не пришёл на почту. Пришлите, пожалуйста."
    )
    assert ticket.customer.full_name == "Пётр Сидоров"
    assert ticket.customer.acquisition_channel == AcquisitionChannel.EMAIL
    assert ticket.customer.contact_points.get().normalised_value == "petr@mail.ru"
    assert ticket.contacts.get().interaction.channel == "email"


def test_windows1251_quoted_printable_decodes(mailbox: Mailbox) -> None:
    result = ingest_email(corpus("windows1251_new.eml"), mailbox=mailbox)

    ticket = ticket_of(result)
    assert ticket.subject == "Возврат заказа"
    assert "Прошу вернуть деньги за заказ №5678" in ticket.messages.get().body
    assert ticket.customer.full_name == "Olga K."


def test_html_only_message_is_sanitised_text(mailbox: Mailbox) -> None:
    result = ingest_email(corpus("html_only.eml"), mailbox=mailbox)

    body = ticket_of(result).messages.get().body
    assert body.startswith("Hello,\nI cannot log in since yesterday.")
    assert 'The page says "account locked".' in body
    assert "- Browser: Firefox" in body
    for dangerous in ("alert", "steal", "color: red", "<"):
        assert dangerous not in body


def test_multipart_related_keeps_the_inline_image_and_the_attachment(mailbox: Mailbox) -> None:
    result = ingest_email(corpus("related_inline_image.eml"), mailbox=mailbox)

    message = ticket_of(result).messages.get()
    assert message.body == "See the screenshot:"
    image, pdf = message.attachments.order_by("id")
    assert (image.filename, image.content_type, image.is_inline) == (
        "screenshot.png",
        "image/png",
        True,
    )
    assert image.content_id == "shot1@gmail"
    # Declared application/octet-stream; the content says PDF.
    assert (pdf.filename, pdf.content_type, pdf.is_inline) == (
        "invoice.pdf",
        "application/pdf",
        False,
    )
    assert pdf.file.read().startswith(b"%PDF")


def test_forwarded_mail_keeps_the_forwarded_text(mailbox: Mailbox) -> None:
    result = ingest_email(corpus("forwarded.eml"), mailbox=mailbox)

    body = ticket_of(result).messages.get().body
    assert body.startswith("The tracking number below does not work.")
    assert "Tracking: ZZ123456789RU" in body


def test_auto_reply_neither_opens_nor_reopens_a_ticket(mailbox: Mailbox) -> None:
    ticket = answered_ticket(mailbox, address="ivan.petrov@romashka.ru")
    ticket.refresh_from_db()
    messages_before = ticket.messages.count()

    result = ingest_email(corpus("auto_reply.eml", ticket), mailbox=mailbox)

    assert result.outcome == "auto_reply"
    assert result.email is not None
    assert result.email.kind == EmailMessage.Kind.AUTO_REPLY
    assert result.email.ticket_id == ticket.pk  # kept on its thread, for the record
    assert ticket.messages.count() == messages_before
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    "header",
    [
        "X-Autoreply: yes",
        "Precedence: bulk",
        "Precedence: auto_reply",
        "Auto-Submitted: auto-generated",
    ],
)
def test_machine_mail_headers_never_open_tickets(mailbox: Mailbox, header: str) -> None:
    raw = (
        f"From: robot@shop.example\nTo: support@example.com\nSubject: Hi\n"
        f"Message-ID: <m-{hash(header)}@shop.example>\n{header}\n\nautomatic\n"
    ).encode()

    assert ingest_email(raw, mailbox=mailbox).outcome == "auto_reply"
    assert not Ticket.objects.exists()


def test_mail_with_our_own_message_id_domain_is_a_loop(mailbox: Mailbox) -> None:
    raw = b"From: x@elsewhere.example\nSubject: Hi\nMessage-ID: <loop-1@example.com>\n\nhi\n"

    assert ingest_email(raw, mailbox=mailbox).outcome == "auto_reply"
    assert not Ticket.objects.exists()


def test_dsn_bounce_marks_the_contact_and_the_sent_reply(mailbox: Mailbox) -> None:
    ticket = answered_ticket(mailbox, address="gone@romashka.ru")

    result = ingest_email(corpus("dsn_bounce.eml", ticket), mailbox=mailbox)

    assert result.outcome == "bounce"
    contact = ContactPoint.objects.get(normalised_value="gone@romashka.ru")
    assert contact.bouncing_since is not None
    sent = EmailMessage.objects.get(message_id=OUR_REPLY_ID)
    assert sent.bounced_at is not None and sent.delivery_badge == "bounced"
    assert "550 5.1.1 User unknown" in sent.last_error
    assert Ticket.objects.count() == 1
    assert ticket.messages.count() == 2


def test_message_without_from_is_quarantined_raw(mailbox: Mailbox) -> None:
    raw = corpus("no_from.eml")

    result = ingest_email(raw, mailbox=mailbox)

    assert result.outcome == "quarantined"
    item = QuarantinedEmail.objects.get()
    assert item.reason == "no sender address (From)"
    assert bytes(item.raw) == raw
    assert item.subject == "who am I"
    assert not Ticket.objects.exists()


def test_malformed_mime_is_quarantined_with_the_defects(mailbox: Mailbox) -> None:
    result = ingest_email(corpus("malformed_mime.eml"), mailbox=mailbox)

    assert result.outcome == "quarantined"
    assert result.quarantined is not None
    assert "StartBoundaryNotFoundDefect" in result.quarantined.reason
    assert not Ticket.objects.exists()


def test_attachment_over_the_limit_is_dropped_and_said_so(
    mailbox: Mailbox, settings: Settings
) -> None:
    settings.EMAIL_ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024
    mime = MimeMessage()
    mime["From"] = "Big Sender <big@files.example>"
    mime["To"] = "support@example.com"
    mime["Subject"] = "The log you asked for"
    mime["Message-ID"] = "<big-1@files.example>"
    mime.set_content("Log attached.")
    mime.add_attachment(
        b"\0" * (30 * 1024 * 1024), maintype="application", subtype="gzip", filename="log.gz"
    )
    mime.add_attachment(b"small notes", maintype="text", subtype="plain", filename="notes.txt")

    result = ingest_email(mime.as_bytes(), mailbox=mailbox)

    message = ticket_of(result).messages.get()
    assert message.body.startswith("Log attached.")
    assert "“log.gz” (30.0\xa0MB) was not kept: over the 25.0\xa0MB limit" in message.body
    assert list(message.attachments.values_list("filename", "content_type")) == [
        ("notes.txt", "text/plain")
    ]
    assert TicketAttachment.objects.count() == 1


def test_the_same_mail_twice_is_ingested_once(mailbox: Mailbox) -> None:
    raw = corpus("koi8r_new.eml")

    first = ingest_email(raw, mailbox=mailbox)
    second = ingest_email(raw, mailbox=mailbox)

    assert (first.outcome, second.outcome) == ("ticket", "duplicate")
    assert Ticket.objects.count() == 1
    assert second.email == first.email


def test_reply_to_a_resolved_ticket_reopens_it(mailbox: Mailbox) -> None:
    from tickets.services import change_ticket_status

    ticket = answered_ticket(mailbox, address="anna.smith@gmail.com")
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED)

    ingest_email(corpus("gmail_reply_en.eml", ticket), mailbox=mailbox)

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.reopened_count == 1


def test_reply_to_a_closed_ticket_opens_a_follow_up(mailbox: Mailbox) -> None:
    from tickets.services import change_ticket_status

    ticket = answered_ticket(mailbox, address="anna.smith@gmail.com")
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED)
    change_ticket_status(ticket=ticket, to_status=Status.CLOSED)

    result = ingest_email(corpus("gmail_reply_en.eml", ticket), mailbox=mailbox)

    assert result.ticket_id != ticket.pk
    follow_up = ticket_of(result)
    assert follow_up.customer_id == ticket.customer_id
    assert follow_up.status == Status.NEW
    assert follow_up.contacts.count() == 1
