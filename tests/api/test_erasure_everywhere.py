"""Erasure reaches every copy: a marker in every text of a customer is nowhere after it.

The models are found from the app registry, so a model added later that can hold a customer's
data is filled with the marker (and must be erased) without this test naming it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.db.models import CharField, JSONField, Model, TextField
from django.test import RequestFactory

from accounts.models import User
from customers.merge import merge_customers
from customers.models import Customer, Tag
from email_channel.models import EmailMessage, QuarantinedEmail
from email_channel.outbound import queue_ticket_reply
from email_channel.services import quarantine, reingest_quarantined
from telephony.models import Call, CallEvent
from telephony.services import record_call_event
from tests.api_fixtures import ClientFor
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    InterestFactory,
    MailboxFactory,
    OfferFactory,
    PurchaseFactory,
    ReminderFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TagFactory,
    TicketFactory,
    TicketMessageFactory,
    raw_mail,
)
from tickets.models import TicketAttachment, TicketContact
from tickets.services import change_ticket_status
from webhooks.models import Webhook

MARKER = "Zorbaquex"
FULL_NAME = f"{MARKER} Quillfeather"
DAY = dt.date(2026, 3, 10)


def paths_to_customer() -> dict[type[Model], str]:
    """Every model with a chain of foreign keys to Customer (found independently of the app)."""
    paths: dict[type[Model], str] = {Customer: "pk"}
    changed = True
    while changed:
        changed = False
        for model in apps.get_models():
            if model in paths:
                continue
            for field in model._meta.concrete_fields:
                target = field.related_model if field.is_relation else None
                if target in paths:
                    rest = paths[target]
                    paths[model] = field.name if rest == "pk" else f"{field.name}__{rest}"
                    changed = True
                    break
    return paths


def text_fields(model: type[Model]) -> list[Any]:
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, CharField | TextField | JSONField)
    ]


# Columns other rows are found by, by value rather than by a foreign key: the PBX's call id
# links a call to its raw events. Overwriting it would cut the link the erasure follows.
LINKS_BY_VALUE = {(Call, "call_id")}


def fill_with_marker(customer: Customer) -> list[str]:
    """Put the marker into every free text of every row of the customer; return what was filled."""
    filled: list[str] = []
    for model, path in paths_to_customer().items():
        rows = model._base_manager.filter(**{path: customer.pk})
        fields = [
            f
            for f in text_fields(model)
            if not f.choices and not f.primary_key and (model, f.name) not in LINKS_BY_VALUE
        ]
        if not fields:
            continue
        assert rows.exists(), f"the history below has no {model._meta.label}: add one"
        for row in rows:
            values: dict[str, Any] = {}
            for field in fields:
                if model is Customer and field.name == "full_name":
                    values[field.attname] = FULL_NAME
                elif isinstance(field, JSONField):
                    values[field.attname] = {"note": f"about {MARKER}"}
                else:
                    # "Dear Zorbaquex, ..." as an operator would quote the name.
                    text = f"{field.name[:3]}{row.pk} {MARKER}"
                    values[field.attname] = text[: field.max_length or None]
            model._base_manager.filter(pk=row.pk).update(**values)
            filled.extend(f"{model._meta.label}.{name}" for name in values)
    return filled


def marker_everywhere() -> list[str]:
    """Every text or JSON column of every table that still holds the marker."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        fields = text_fields(model)
        if not fields:
            continue
        for row in model._base_manager.values_list(*[f.attname for f in fields]):
            for field, value in zip(fields, row, strict=True):
                if MARKER.lower() in str(value).lower():
                    found.append(f"{model._meta.db_table}.{field.column}: {value!r}")
    return found


@pytest.fixture
def marked(
    client_for: ClientFor,
    operator: User,
    admin_user: User,
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,
) -> Customer:
    """A customer with a full history, created and changed the ways the product does it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_MESSAGE_ID_DOMAIN = "example.com"
    Webhook.objects.create(
        name="BI",
        url="http://127.0.0.1:9/hook",
        events=["customer.created", "customer.updated", "ticket.created"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = client_for(operator).post(
            "/api/v1/customers/",
            {
                "full_name": FULL_NAME,
                "external_id": f"{MARKER}-1",
                "contact_points": [
                    {"kind": "phone", "value": "+79123450001"},
                    {"kind": "email", "value": f"{MARKER}@example.com"},
                ],
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="create-1",
        )
        assert created.status_code == 201, created.content
        customer = Customer.objects.get(pk=created.data["id"])
        customer.tags.add(
            TagFactory.create(name=f"friend of {MARKER}"), TagFactory.create(name="vip")
        )
        CustomerFactory.create(full_name="Other").tags.add(Tag.objects.get(name="vip"))
        purchase = PurchaseFactory.create(
            customer=customer,
            amount=Decimal("1500.00"),
            purchased_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC),
        )
        ReminderFactory.create(purchase=purchase)
        # A call from the customer's number, as the PBX reports it (in its own spelling).
        record_call_event(
            event="newCall",
            call_id="pbx-1",
            direction="in",
            from_number="89123450001",
            to_number="100",
        )
        InterestFactory.create(customer=customer)
        interaction = InteractionFactory.create(customer=customer)
        OfferFactory.create(customer=customer)
        ticket = TicketFactory.create(customer=customer)
        TicketContact.objects.create(ticket=ticket, interaction=interaction)
        TicketMessageFactory.create(ticket=ticket, body="My address is Lenina 1")
        # The customer writes about the ticket by email, with a file; we answer by email.
        mailbox = MailboxFactory.create()
        sender = f"{FULL_NAME} <{MARKER}@example.com>"
        first_mail = raw_mail(
            sender=sender,
            subject=f"[#{ticket.pk}] my passport",
            body=f"Here it is. -- {FULL_NAME}",
            attachments={f"passport-{MARKER}.pdf": b"%PDF-1.4 passport of " + MARKER.encode()},
        )
        # It was quarantined first (the mailbox was set up wrong), then re-ingested by an admin.
        held = quarantine(first_mail, mailbox=mailbox, reason="no team")
        inbound = reingest_quarantined(item=held, actor=admin_user)
        assert inbound.ticket_id == ticket.pk, inbound
        reply = TicketMessageFactory.create(ticket=ticket, author_kind="operator", body="Hi")
        assert queue_ticket_reply(message=reply) is not None
        # Mail from them that could not be ingested waits raw in the quarantine.
        quarantine(
            raw_mail(sender=sender, subject=f"from {MARKER}", body=f"I am {FULL_NAME}"),
            mailbox=mailbox,
            reason="unreadable",
        )
        change_ticket_status(ticket=ticket, to_status="resolved", actor=operator)
        invitation = SurveyInvitationFactory.create(customer=customer)
        SurveyResponseFactory.create(invitation=invitation, score=2, comment="slow")
        # A duplicate merged in: its old name and external ID stay as an alias.
        duplicate = CustomerFactory.create(full_name=f"{MARKER} Q.", external_id=f"{MARKER}-2")
        merge_customers(survivor=customer, other=duplicate, actor=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        # Saved through the model, as the card's edit form does: audit entry, webhook payload.
        customer.refresh_from_db()
        customer.company = f"{MARKER} Ltd"
        customer.save()
        contact = customer.contact_points.get(kind="phone")
        contact.label = f"home of {MARKER}"
        contact.save()
        # A contact deleted before the erasure: only its audit history still holds it.
        customer.contact_points.create(kind="email", value=f"old.{MARKER}@example.com").delete()
    fill_with_marker(customer)
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    admin.site._registry[Customer].log_change(request, customer, f"Renamed {FULL_NAME}")
    return customer


@pytest.mark.django_db
def test_erased_customer_leaves_the_marker_in_no_column(
    marked: Customer, client_for: ClientFor, admin_user: User
) -> None:
    assert marker_everywhere(), "the fixture did not put the marker anywhere"

    response = client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")

    assert response.status_code == 200
    assert marker_everywhere() == []


@pytest.mark.django_db
def test_the_customers_mail_keeps_no_address_file_or_raw_copy(
    marked: Customer,
    client_for: ClientFor,
    admin_user: User,
    django_capture_on_commit_callbacks,
) -> None:
    stored = [str(attachment.file.name) for attachment in TicketAttachment.objects.all()]
    assert stored and all(default_storage.exists(name) for name in stored)
    assert EmailMessage.objects.filter(direction="out", delivery_status="pending").exists()
    assert QuarantinedEmail.objects.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")

    assert response.status_code == 200
    assert not TicketAttachment.objects.exists()
    assert not any(default_storage.exists(name) for name in stored)
    assert not QuarantinedEmail.objects.exists()
    rows = list(
        EmailMessage.objects.values_list(
            "direction", "subject", "delivery_status", "cc_addresses"
        ).order_by("direction")
    )
    # The reply still queued does not go out (to an address the erasure removed).
    assert rows == [("in", "[erased]", "skipped", []), ("out", "[erased]", "cancelled", [])]
    assert EmailMessage.objects.get(direction="in").from_address == ""
    assert EmailMessage.objects.get(direction="out").to_addresses == []


@pytest.mark.django_db
def test_a_storage_that_fails_to_delete_a_file_does_not_undo_the_erasure(
    marked: Customer,
    client_for: ClientFor,
    admin_user: User,
    django_capture_on_commit_callbacks,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unreachable(self: FileSystemStorage, name: str) -> None:
        raise OSError("storage unreachable")

    monkeypatch.setattr(FileSystemStorage, "delete", unreachable)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")

    assert response.status_code == 200
    assert Customer.objects.get(pk=marked.pk).anonymised_at is not None
    assert not TicketAttachment.objects.exists()
    assert "could not be deleted" in caplog.text


@pytest.mark.django_db
def test_the_pbx_events_of_the_customers_calls_keep_no_number(
    marked: Customer, client_for: ClientFor, admin_user: User
) -> None:
    # The raw events hang on the call by the PBX's id, not a foreign key: the registry walk
    # alone would miss them.
    assert CallEvent.objects.filter(payload__from="89123450001").exists()

    client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")

    texts = [json.dumps(event.payload) for event in CallEvent.objects.all()]
    assert texts and not any("9123450001" in text for text in texts)
    assert list(Call.objects.values_list("caller", "called")) == [("", "")]


@pytest.mark.django_db
def test_erasure_keeps_the_aggregates(
    marked: Customer, client_for: ClientFor, admin_user: User
) -> None:
    url = "/api/v1/metrics/?from=2026-01-01&to=2026-12-31"
    before = client_for(admin_user).get(url).json()

    client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")
    after = client_for(admin_user).get(url).json()

    assert after == before
    assert before["csat"]["n"] == 1


@pytest.mark.django_db
def test_a_tag_only_the_customer_carries_goes_a_shared_one_stays(
    marked: Customer, client_for: ClientFor, admin_user: User
) -> None:
    client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")

    assert list(Tag.objects.values_list("name", flat=True)) == ["vip"]
    assert not Customer.objects.get(pk=marked.pk).tags.exists()


@pytest.mark.django_db
def test_operator_reply_keeps_its_words_but_not_the_name(
    marked: Customer, client_for: ClientFor, admin_user: User
) -> None:
    reply = marked.tickets.get().messages.get(author_kind="operator")
    reply.body = f"Dear {MARKER.upper()}, we called +79123450001."
    reply.save()

    client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")

    reply.refresh_from_db()
    assert reply.body == "Dear [erased], we called [erased]."


@pytest.mark.postgres
# serialized_rollback: the flush after it must not re-create the roles (post_migrate), or the
# browser tests, which restore the serialized roles, would find them twice.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pg_dump_of_the_database_has_no_marker(
    marked: Customer, client_for: ClientFor, admin_user: User
) -> None:
    client_for(admin_user).post(f"/api/v1/customers/{marked.pk}/erase/")

    settings_dict = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            settings_dict["HOST"] or "127.0.0.1",
            "-p",
            str(settings_dict["PORT"] or 5432),
            "-U",
            settings_dict["USER"],
            settings_dict["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert f"Anonymised customer {marked.pk}" in dump  # the dump is of this database
    assert MARKER.lower() not in dump.lower()
