"""generate_data: volume with valid rows, appended run after run."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Model

from crm.demo.bulk import generate
from crm.demo.writers import BulkCreateWriter
from customers.contacts import normalise_email, normalise_phone
from customers.models import ContactPoint, Customer, Interaction, Interest, Offer, Purchase
from surveys.models import SurveyInvitation, SurveyResponse
from tests.factories import CustomerFactory, PhoneFactory
from tickets.models import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    Status,
    Ticket,
    TicketContact,
    TicketEvent,
    TicketMessage,
)

pytestmark = pytest.mark.django_db

CUSTOMERS = 200
FULL_CLEAN_SAMPLE = 20


def _generate(customers: int = CUSTOMERS, **options: object) -> str:
    out = StringIO()
    call_command("generate_data", customers=customers, stdout=out, **options)
    return out.getvalue()


def test_generate_data_makes_customers_with_contacts_and_history() -> None:
    output = _generate(seed=5)
    customers = Customer.objects.all()
    assert customers.count() == CUSTOMERS
    per_customer = customers.annotate(n=Count("contact_points")).values_list("n", flat=True)
    assert set(per_customer) <= {1, 2, 3}
    assert Purchase.objects.count() > 2 * CUSTOMERS
    assert Interest.objects.exists()
    assert Interaction.objects.count() > CUSTOMERS
    assert Offer.objects.exists()
    assert Ticket.objects.count() > CUSTOMERS // 5
    assert SurveyResponse.objects.exists()
    assert "rows/s" in output
    assert customers.filter(language="ru").exists()
    assert customers.filter(language="en").exists()


def test_generated_contacts_are_normalised_like_the_model_does() -> None:
    _generate(seed=6)
    for contact in ContactPoint.objects.all():
        if contact.kind == ContactPoint.Kind.EMAIL:
            assert normalise_email(contact.value) == contact.normalised_value
        else:  # phones, and WhatsApp numbers
            assert contact.normalised_value.startswith("+7")
            assert normalise_phone(contact.value) == contact.normalised_value


def test_generated_purchases_have_the_end_dates_the_model_derives() -> None:
    _generate(seed=7)
    purchases = Purchase.objects.select_related("product")
    assert purchases.filter(warranty_ends_on__isnull=False).exists()
    assert purchases.filter(subscription_ends_on__isnull=False).exists()
    for purchase in purchases:
        stored = (
            purchase.warranty_ends_on,
            purchase.support_ends_on,
            purchase.subscription_ends_on,
        )
        purchase.derive_end_dates()
        derived = (
            purchase.warranty_ends_on,
            purchase.support_ends_on,
            purchase.subscription_ends_on,
        )
        assert stored == derived


def test_generated_tickets_keep_their_timestamps_and_history_consistent() -> None:
    _generate(seed=8)
    tickets = list(Ticket.objects.prefetch_related("events"))
    statuses = {ticket.status for ticket in tickets}
    assert Status.CLOSED in statuses
    assert statuses & set(ACTIVE_STATUSES)
    for ticket in tickets:
        assert (ticket.resolved_at is not None) == (ticket.status in DONE_STATUSES)
        assert (ticket.closed_at is not None) == (ticket.status == Status.CLOSED)
        if ticket.first_response_at:
            assert ticket.first_response_at >= ticket.created_at
        if ticket.resolved_at:
            assert ticket.resolved_at >= ticket.created_at
        events = list(ticket.events.all())
        assert events[0].kind == TicketEvent.Kind.CREATED
        assert events[-1].to_value == ticket.status
        assert ticket.contacts.count() == ticket.customer_contacts
    for invitation in SurveyInvitation.objects.select_related("ticket"):
        assert invitation.expires_at > invitation.created_at
        if invitation.ticket:
            assert invitation.ticket.status in DONE_STATUSES


MODELS_TO_CLEAN: list[type[Model]] = [
    Customer,
    ContactPoint,
    Purchase,
    Interest,
    Interaction,
    Offer,
    Ticket,
    TicketContact,
    TicketMessage,
    TicketEvent,
    SurveyInvitation,
    SurveyResponse,
]


def test_generated_records_pass_full_clean() -> None:
    _generate(seed=9)
    for model in MODELS_TO_CLEAN:
        rows = list(model._default_manager.order_by("pk"))
        assert rows, f"no {model.__name__} rows"
        for row in rows[:: max(1, len(rows) // FULL_CLEAN_SAMPLE)]:
            row.full_clean()


def test_generate_data_appends_to_a_database_in_use_without_collisions() -> None:
    existing = PhoneFactory(customer=CustomerFactory())
    _generate(seed=1)
    _generate(seed=1, batch_size=64)
    assert Customer.objects.count() == 2 * CUSTOMERS + 1
    external_ids = list(Customer.objects.values_list("external_id", flat=True))
    assert len(set(external_ids)) == len(external_ids)
    phones = list(
        ContactPoint.objects.filter(kind="phone").values_list("normalised_value", flat=True)
    )
    assert not [phone for phone, n in Counter(phones).items() if n > 1]
    tokens = list(SurveyInvitation.objects.values_list("token", flat=True))
    assert len(set(tokens)) == len(tokens)
    assert existing.customer in Customer.objects.all()


def test_generate_data_reports_every_batch() -> None:
    output = _generate(customers=150, seed=2, batch_size=64)
    assert Customer.objects.count() == 150
    progress = [line for line in output.splitlines() if "/150 customers" in line]
    assert [line.split()[0] for line in progress] == ["64/150", "128/150", "150/150"]


def test_generate_data_refuses_nonsense() -> None:
    with pytest.raises(CommandError):
        _generate(customers=0)
    with pytest.raises(CommandError):
        _generate(customers=10, batch_size=0)


def test_generated_times_and_dates_match_what_the_orm_stores() -> None:
    """Exact lookups find the rows: values are stored in the database's own format."""
    _generate(customers=40, seed=10)
    for purchase in Purchase.objects.exclude(warranty_ends_on=None)[:10]:
        assert Purchase.objects.filter(
            pk=purchase.pk,
            purchased_at=purchase.purchased_at,
            warranty_ends_on=purchase.warranty_ends_on,
            amount=purchase.amount,
        ).exists()
    for ticket in Ticket.objects.all()[:10]:
        assert Ticket.objects.filter(pk=ticket.pk, created_at=ticket.created_at).exists()
    since = Customer.objects.first()
    assert since is not None
    assert Customer.objects.filter(customer_since=since.customer_since).exists()


def test_the_bulk_create_fallback_writes_the_same_kind_of_rows() -> None:
    """The writer for databases without a fast path (neither PostgreSQL nor SQLite)."""
    result = generate(customers=30, seed=11, writer=BulkCreateWriter())
    assert result.customers == Customer.objects.count() == 30
    assert result.rows["purchases"] == Purchase.objects.count()
    for ticket in Ticket.objects.all():
        assert (ticket.closed_at is not None) == (ticket.status == Status.CLOSED)
    # Ids were set by hand: the next ordinary insert must still get a free one.
    generated = max(Customer.objects.values_list("pk", flat=True))
    assert Customer.objects.create(full_name="Walk-in").pk > generated
