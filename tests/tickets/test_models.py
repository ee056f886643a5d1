"""Ticket model: the workflow enforced on save, and the invariants the database holds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import CustomerFactory, PurchaseFactory, TicketFactory
from tickets.models import Status, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def test_a_new_ticket_cannot_be_closed_by_saving_its_status() -> None:
    ticket = TicketFactory.create()
    ticket.status = Status.CLOSED

    with pytest.raises(ValidationError) as caught:
        ticket.save()

    assert "status" in caught.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_a_ticket_read_from_the_database_refuses_an_illegal_move_on_save() -> None:
    ticket = Ticket.objects.get(pk=TicketFactory.create().pk)
    ticket.status = Status.CLOSED
    ticket.resolved_at = ticket.closed_at = timezone.now()

    with pytest.raises(ValidationError):
        ticket.save()

    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_full_clean_refuses_an_illegal_move() -> None:
    ticket = TicketFactory.create()
    ticket.status = Status.CLOSED

    with pytest.raises(ValidationError) as caught:
        ticket.full_clean()

    assert caught.value.message_dict["status"] == ["A ticket cannot go from “New” to “Closed”."]


def test_a_legal_move_saved_on_the_model_is_accepted() -> None:
    ticket = TicketFactory.create()
    ticket.status = Status.OPEN

    ticket.save()

    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_reloading_a_ticket_checks_moves_from_its_stored_status() -> None:
    ticket = TicketFactory.create()
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED, resolved_at=now)
    ticket.refresh_from_db()
    ticket.status = Status.CLOSED
    ticket.closed_at = now

    ticket.save()  # resolved -> closed is legal, where new -> closed would not be

    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_a_purchase_of_another_customer_cannot_be_attached() -> None:
    ticket = TicketFactory.create()
    ticket.purchase = PurchaseFactory.create(customer=CustomerFactory.create())

    with pytest.raises(ValidationError) as caught:
        ticket.full_clean()

    assert "purchase" in caught.value.message_dict


def test_the_customers_own_purchase_can_be_attached() -> None:
    ticket = TicketFactory.create()
    ticket.purchase = PurchaseFactory.create(customer=ticket.customer)

    ticket.full_clean()


def test_the_number_operators_read_out_is_the_primary_key() -> None:
    ticket = TicketFactory.create()

    assert ticket.number == ticket.pk
    assert str(ticket).startswith(f"#{ticket.pk} ")


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_the_database_refuses_a_done_ticket_without_resolution_time(status: str) -> None:
    ticket = TicketFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(status=status, closed_at=timezone.now())


def test_the_database_refuses_an_open_ticket_with_resolution_time() -> None:
    ticket = TicketFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now())


def test_the_database_refuses_a_closing_time_on_a_ticket_that_is_not_closed() -> None:
    ticket = TicketFactory.create()
    now = timezone.now()

    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(
            status=Status.RESOLVED, resolved_at=now, closed_at=now
        )


def test_the_database_refuses_a_resolution_before_creation() -> None:
    ticket = TicketFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(
            status=Status.RESOLVED, resolved_at=ticket.created_at - dt.timedelta(seconds=1)
        )


def test_the_database_refuses_a_ticket_with_no_customer_contact() -> None:
    ticket = TicketFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(customer_contacts=0)


def test_the_database_refuses_an_internal_note_by_the_customer() -> None:
    ticket = TicketFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        TicketMessage.objects.create(
            ticket=ticket,
            author_kind=TicketMessage.Author.CUSTOMER,
            body="Only staff should see this",
            is_internal=True,
        )

    assert not ticket.messages.exists()


def test_the_database_refuses_an_empty_message() -> None:
    ticket = TicketFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        TicketMessage.objects.create(
            ticket=ticket, author_kind=TicketMessage.Author.OPERATOR, body=""
        )
