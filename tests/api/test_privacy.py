"""Right of access and right to erasure through the API and crm.privacy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from accounts.models import User
from crm.privacy import ERASED_TEXT, erase_customer, export_customer
from customers.models import ContactPoint, Customer, DataExportRecord, Purchase
from email_channel.services import ingest_email
from surveys.models import SurveyResponse
from tests.api_fixtures import ClientFor
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    InterestFactory,
    MailboxFactory,
    OfferFactory,
    PhoneFactory,
    PurchaseFactory,
    ReminderFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TicketFactory,
    TicketMessageFactory,
    raw_mail,
)
from tickets.models import TicketMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(db: None) -> Customer:
    customer = CustomerFactory.create(full_name="Anna Ivanova", notes="Prefers mornings")
    PhoneFactory.create(customer=customer)
    EmailFactory.create(customer=customer)
    purchase = PurchaseFactory.create(customer=customer, amount=Decimal("1500.00"))
    ReminderFactory.create(purchase=purchase)
    InterestFactory.create(customer=customer)
    InteractionFactory.create(customer=customer, contact_address="+79123456789")
    OfferFactory.create(customer=customer)
    ticket = TicketFactory.create(customer=customer)
    TicketMessageFactory.create(ticket=ticket, body="My address is Lenina 1")
    TicketMessageFactory.create(
        ticket=ticket, author_kind="operator", body="Noted", is_internal=True
    )
    invitation = SurveyInvitationFactory.create(customer=customer)
    SurveyResponseFactory.create(invitation=invitation, score=2, comment="Anna here, slow")
    return customer


def test_export_has_everything_about_the_customer(history: Customer) -> None:
    data = export_customer(customer=history)

    assert data["customer"]["full_name"] == "Anna Ivanova"
    for section in (
        "contact_points",
        "purchases",
        "interests",
        "interactions",
        "offers",
        "reminders",
        "tickets",
        "ticket_messages",
        "survey_invitations",
        "survey_responses",
    ):
        assert data[section], section
    assert len(data["contact_points"]) == 2
    # Staff-only notes are not the customer's data; invitation tokens are secrets.
    assert [m["body"] for m in data["ticket_messages"]] == ["My address is Lenina 1"]
    assert "token" not in data["survey_invitations"][0]


def test_export_lists_the_customers_mail_and_attachments(
    history: Customer, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    ticket = history.tickets.get()
    result = ingest_email(
        raw_mail(
            sender=f"Anna Ivanova <{history.contact_points.get(kind='email').value}>",
            subject=f"[#{ticket.pk}] the receipt",
            attachments={"receipt.pdf": b"%PDF-1.4 receipt"},
        ),
        mailbox=MailboxFactory.create(),
    )
    assert result.ticket_id == ticket.pk, result

    data = export_customer(customer=history)

    assert [m["subject"] for m in data["email_messages"]] == [f"[#{ticket.pk}] the receipt"]
    assert [(a["filename"], a["size"]) for a in data["ticket_attachments"]] == [("receipt.pdf", 16)]
    assert "file" not in data["ticket_attachments"][0]


def test_export_endpoint(client_for: ClientFor, privacy_officer: User, history: Customer) -> None:
    response = client_for(privacy_officer).get(f"/api/v1/customers/{history.pk}/export/")
    missing = client_for(privacy_officer).get("/api/v1/customers/999999/export/")

    assert response.status_code == 200
    assert response.json()["customer"]["id"] == history.pk
    assert missing.status_code == 404
    record = DataExportRecord.objects.get()
    assert (record.customer_id, record.actor, record.path) == (history.pk, privacy_officer, "api")


@pytest.mark.parametrize("persona", ["operator", "supervisor", "integration_reader"])
def test_export_needs_its_own_permission_and_records_nothing_when_refused(
    client_for: ClientFor, history: Customer, persona: str, request: pytest.FixtureRequest
) -> None:
    # Reading identities and contacts (a telephony token) or cards is not reading everything.
    user = request.getfixturevalue(persona)

    response = client_for(user).get(f"/api/v1/customers/{history.pk}/export/")

    assert response.status_code == 403
    assert not DataExportRecord.objects.exists()


def test_erase_endpoint_needs_the_erasure_permission(
    client_for: ClientFor, supervisor: User, privacy_officer: User, history: Customer
) -> None:
    refused = client_for(supervisor).post(f"/api/v1/customers/{history.pk}/erase/")
    erased = client_for(privacy_officer).post(f"/api/v1/customers/{history.pk}/erase/")

    assert refused.status_code == 403
    assert erased.status_code == 200
    assert Customer.objects.get(pk=history.pk).anonymised_at is not None


def test_erase_anonymises_and_keeps_aggregates(admin_user: User, history: Customer) -> None:
    at = timezone.now()

    erase_customer(customer=history, actor=admin_user, at=at)

    customer = Customer.objects.get(pk=history.pk)
    assert customer.anonymised_at == at
    assert "Anna" not in customer.full_name
    assert (customer.notes, customer.external_id, customer.company) == ("", "", "")
    assert not ContactPoint.objects.filter(customer=customer).exists()
    assert Purchase.objects.get(customer=customer).amount == Decimal("1500.00")
    assert TicketMessage.objects.get(author_kind="customer").body == ERASED_TEXT
    response = SurveyResponse.objects.get()
    assert (response.score, response.comment) == (2, ERASED_TEXT)
    assert customer.interactions.get().contact_address == ""
    entry = LogEntry.objects.get()
    assert entry.user == admin_user and entry.object_id == str(customer.pk)


def test_erase_endpoint_is_idempotent_and_admin_only(
    client_for: ClientFor, admin_user: User, operator: User, history: Customer
) -> None:
    url = f"/api/v1/customers/{history.pk}/erase/"

    by_operator = client_for(operator).post(url)
    first = client_for(admin_user).post(url)
    stamp = Customer.objects.get(pk=history.pk).anonymised_at
    second = client_for(admin_user).post(url)

    assert by_operator.status_code == 403
    assert first.status_code == second.status_code == 200
    assert first.data["contact_points"] == []
    assert Customer.objects.get(pk=history.pk).anonymised_at == stamp
    assert LogEntry.objects.count() == 1


def test_erase_happens_in_one_transaction(admin_user: User, history: Customer, monkeypatch) -> None:
    import crm.privacy

    def explode(**kwargs: object) -> None:
        raise RuntimeError("log failed")

    monkeypatch.setattr(crm.privacy, "_log", explode)

    with pytest.raises(RuntimeError):
        erase_customer(
            customer=history, actor=admin_user, at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )

    customer = Customer.objects.get(pk=history.pk)
    assert customer.full_name == "Anna Ivanova"
    assert customer.contact_points.count() == 2
