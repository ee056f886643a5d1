"""Providers' inbound webhooks reach the same ingest: SendGrid (raw MIME) and Postmark (JSON)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from email_channel.models import Mailbox
from tests.email_channel.conftest import corpus
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SECRET = "anymail-user:s3cret-pass"


def _auth(secret: str = SECRET) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


@pytest.fixture(autouse=True)
def _webhook_secret(settings: Settings) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def test_sendgrid_raw_inbound_opens_a_ticket(mailbox: Mailbox) -> None:
    response = Client().post(
        "/email/inbound/sendgrid/inbound/",
        {
            "email": corpus("html_only.eml").decode(),
            "envelope": json.dumps({"to": ["support@example.com"], "from": "m@shop.example"}),
        },
        **_auth(),
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.subject == "Cannot log in"
    assert ticket.messages.get().body.startswith("Hello,\nI cannot log in since yesterday.")


def test_postmark_inbound_goes_to_the_mailbox_it_was_sent_to(mailbox: Mailbox) -> None:
    sales = Mailbox.objects.create(name="sales", address="sales@example.com")
    payload = {
        "FromFull": {"Email": "buyer@example.org", "Name": "Buyer"},
        "ToFull": [{"Email": "sales@example.com", "Name": ""}],
        "CcFull": [],
        "Subject": "Wholesale prices",
        "MessageID": "pm-1",
        "TextBody": "Do you sell by the pallet?",
        "HtmlBody": "",
        "Headers": [{"Name": "Message-ID", "Value": "<pm-1@example.org>"}],
        "Attachments": [],
        "Date": "Tue, 1 Dec 2026 10:00:00 +0000",
    }

    response = Client().post(
        "/email/inbound/postmark/inbound/",
        json.dumps(payload),
        content_type="application/json",
        **_auth(),
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.subject == "Wholesale prices"
    assert ticket.messages.get().body == "Do you sell by the pallet?"
    assert ticket.emails.get().mailbox == sales


def test_wrong_credentials_are_refused(mailbox: Mailbox) -> None:
    response = Client().post(
        "/email/inbound/sendgrid/inbound/",
        {"email": corpus("html_only.eml").decode()},
        **_auth("anymail-user:wrong"),
    )

    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_webhooks_are_off_without_a_secret(mailbox: Mailbox, settings: Settings) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}

    response = Client().post(
        "/email/inbound/sendgrid/inbound/", {"email": corpus("html_only.eml").decode()}
    )

    assert response.status_code == 404
    assert not Ticket.objects.exists()
