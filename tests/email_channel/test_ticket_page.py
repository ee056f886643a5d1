"""What the ticket page and the card show of email, and who may download attachments."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from core.dates import site_today
from email_channel.models import Mailbox
from email_channel.services import ingest_email
from metrics.engine import compute_metric
from metrics.periods import MetricFilters, Period
from tests.email_channel.conftest import answered_ticket, corpus, ticket_of
from tickets.models import Ticket, TicketAttachment

pytestmark = pytest.mark.django_db


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def ticket_with_files(mailbox: Mailbox) -> Ticket:
    return ticket_of(ingest_email(corpus("related_inline_image.eml"), mailbox=mailbox))


def test_ticket_page_shows_folded_quote_cc_and_attachments(
    mailbox: Mailbox, operator: User
) -> None:
    ticket = answered_ticket(mailbox, address="anna.smith@gmail.com")
    ingest_email(corpus("gmail_reply_en.eml", ticket), mailbox=mailbox)
    ingest_email(corpus("related_inline_image.eml"), mailbox=mailbox)

    page = _client(operator).get(reverse("tickets:detail", args=[ticket.pk])).content.decode()

    assert '<details class="quoted">' in page
    assert "On Tue, Dec 1, 2026 at 10:00 AM Support" in page
    assert "Cc: bob@smith.example" in page
    assert 'class="badge delivery-sent ok"' in page  # our reply, recorded as sent


def test_ticket_page_lists_attachments_with_inline_images(
    ticket_with_files: Ticket, operator: User
) -> None:
    image, pdf = TicketAttachment.objects.order_by("id")
    url = reverse("tickets:detail", args=[ticket_with_files.pk])

    page = _client(operator).get(url).content.decode()

    image_url = reverse("tickets:attachment", args=[ticket_with_files.pk, image.pk])
    pdf_url = reverse("tickets:attachment", args=[ticket_with_files.pk, pdf.pk])
    assert f'<img class="inline-image" src="{image_url}"' in page
    assert f'<a href="{pdf_url}">invoice.pdf</a>' in page


def test_ticket_page_queries_do_not_grow_with_attachments(mailbox: Mailbox, operator: User) -> None:
    first = ticket_of(ingest_email(corpus("related_inline_image.eml"), mailbox=mailbox))
    client = _client(operator)
    url = reverse("tickets:detail", args=[first.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for n in range(3):
        raw = corpus("related_inline_image.eml").replace(b"related-1@", f"related-x{n}@".encode())
        raw = raw.replace(b"Subject: Screenshot", f"Subject: [#{first.pk}] Screenshot".encode())
        assert ingest_email(raw, mailbox=mailbox).ticket_id == first.pk
    with CaptureQueriesContext(connection) as four:
        client.get(url)
    assert len(four) == len(one)


def test_operator_downloads_an_attachment(ticket_with_files: Ticket, operator: User) -> None:
    pdf = TicketAttachment.objects.get(filename="invoice.pdf")

    response = _client(operator).get(
        reverse("tickets:attachment", args=[ticket_with_files.pk, pdf.pk])
    )

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_inline_image_is_served_as_an_image(ticket_with_files: Ticket, supervisor: User) -> None:
    image = TicketAttachment.objects.get(is_inline=True)

    response = _client(supervisor).get(
        reverse("tickets:attachment", args=[ticket_with_files.pk, image.pk])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "sandbox" in response["Content-Security-Policy"]


def test_staff_without_ticket_permissions_are_refused(
    ticket_with_files: Ticket, no_permission_user: User, integration: User
) -> None:
    pdf = TicketAttachment.objects.get(filename="invoice.pdf")
    url = reverse("tickets:attachment", args=[ticket_with_files.pk, pdf.pk])

    assert _client(no_permission_user).get(url).status_code == 403
    assert _client(integration).get(url).status_code in (302, 403)
    anonymous = _client(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))


def test_attachment_of_another_ticket_is_not_found(
    ticket_with_files: Ticket, operator: User, mailbox: Mailbox
) -> None:
    other = answered_ticket(mailbox, address="someone@example.org")
    pdf = TicketAttachment.objects.get(filename="invoice.pdf")

    response = _client(operator).get(reverse("tickets:attachment", args=[other.pk, pdf.pk]))

    assert response.status_code == 404


def test_post_to_an_attachment_is_refused(ticket_with_files: Ticket, operator: User) -> None:
    pdf = TicketAttachment.objects.get(filename="invoice.pdf")
    url = reverse("tickets:attachment", args=[ticket_with_files.pk, pdf.pk])

    assert _client(operator).post(url).status_code == 405


def test_card_shows_a_bouncing_address(mailbox: Mailbox, operator: User) -> None:
    ticket = answered_ticket(mailbox, address="gone@romashka.ru")
    ingest_email(corpus("dsn_bounce.eml", ticket), mailbox=mailbox)

    page = _client(operator).get(reverse("customers:card", args=[ticket.customer_id]))

    assert 'class="badge bad bouncing"' in page.content.decode()


def test_negative_mail_is_marked_on_the_ticket_and_in_the_queue(
    mailbox: Mailbox, operator: User
) -> None:
    angry = (
        b"From: angry@example.org\nSubject: Order\nMessage-ID: <angry-1@example.org>\n"
        b"Content-Type: text/plain; charset=utf-8\n\n"
        b"This is terrible, the worst service ever. I am very disappointed and angry.\n"
    )
    calm = (
        b"From: calm@example.org\nSubject: Thanks\nMessage-ID: <calm-1@example.org>\n"
        b"Content-Type: text/plain; charset=utf-8\n\nThank you, great help, everything works!\n"
    )
    bad = ticket_of(ingest_email(angry, mailbox=mailbox))
    good = ticket_of(ingest_email(calm, mailbox=mailbox))
    client = _client(operator)

    assert bad.messages.get().sentiment == "negative"
    assert good.messages.get().sentiment == "positive"
    queue = client.get(reverse("tickets:queue")).content.decode()
    rows = {
        ticket.pk: next(row for row in queue.split("<tr") if f"/tickets/{ticket.pk}/" in row)
        for ticket in (bad, good)
    }
    assert "sentiment-negative" in rows[bad.pk]
    assert "sentiment-negative" not in rows[good.pk]
    page = client.get(reverse("tickets:detail", args=[bad.pk])).content.decode()
    assert 'class="badge bad sentiment-negative"' in page
    # Counted in the sentiment metric beside survey comments (none here): one of two.
    today = MetricFilters(period=Period(site_today(), site_today()))
    negative = compute_metric("sentiment_negative", today)
    assert (negative.value, negative.n) == (50.0, 2)
