"""The workflow's decisions: customers writing on resolved and closed tickets; the signal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from accounts.models import User
from tests.factories import CustomerFactory, PurchaseFactory
from tickets.models import IllegalTransition, Priority, Status, Ticket, TicketMessage
from tickets.services import add_message, allowed_statuses, change_ticket_status, open_ticket
from tickets.signals import ticket_status_changed

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _ticket(**fields: Any) -> Ticket:
    return open_ticket(
        customer=CustomerFactory.create(),
        subject="Router reboots",
        channel="email",
        created_at=T0,
        **fields,
    )


def test_a_customer_message_on_a_resolved_ticket_reopens_it() -> None:
    ticket = _ticket()
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, at=T0 + dt.timedelta(hours=1))
    message = add_message(
        ticket=ticket,
        body="It happened again.",
        author_kind=TicketMessage.Author.CUSTOMER,
        at=T0 + dt.timedelta(hours=2),
    )
    ticket.refresh_from_db()
    assert message.ticket_id == ticket.pk
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None
    assert ticket.reopened_count == 1


def test_a_customer_message_on_a_closed_ticket_opens_a_new_one() -> None:
    purchase = PurchaseFactory.create()
    ticket = _ticket(priority=Priority.HIGH)
    Ticket.objects.filter(pk=ticket.pk).update(customer=purchase.customer, purchase=purchase)
    ticket.refresh_from_db()
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, at=T0 + dt.timedelta(hours=1))
    change_ticket_status(ticket=ticket, to_status=Status.CLOSED, at=T0 + dt.timedelta(days=3))
    message = add_message(
        ticket=ticket,
        body="Broken again.",
        author_kind=TicketMessage.Author.CUSTOMER,
        at=T0 + dt.timedelta(days=10),
    )
    ticket.refresh_from_db()
    follow_up = message.ticket
    assert ticket.status == Status.CLOSED
    assert follow_up.pk != ticket.pk
    assert follow_up.status == Status.NEW
    assert follow_up.customer_id == ticket.customer_id
    assert follow_up.priority == Priority.HIGH
    assert follow_up.purchase_id == purchase.pk
    assert follow_up.created_at == T0 + dt.timedelta(days=10)
    assert list(follow_up.messages.values_list("body", flat=True)) == ["Broken again."]


def test_an_operator_reply_on_a_resolved_ticket_does_not_reopen_it(operator: User) -> None:
    ticket = _ticket()
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, at=T0 + dt.timedelta(hours=1))
    add_message(
        ticket=ticket,
        body="Glad it works.",
        author_kind=TicketMessage.Author.OPERATOR,
        author_user=operator,
        at=T0 + dt.timedelta(hours=2),
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


@pytest.mark.parametrize(
    ("status_path", "allowed"),
    [
        ([], [Status.OPEN, Status.PENDING, Status.RESOLVED]),
        ([Status.OPEN], [Status.PENDING, Status.RESOLVED]),
        ([Status.PENDING], [Status.OPEN, Status.RESOLVED]),
        ([Status.RESOLVED], [Status.OPEN, Status.CLOSED]),
        ([Status.RESOLVED, Status.CLOSED], []),
    ],
)
def test_allowed_statuses_follow_the_workflow(status_path: list[str], allowed: list[str]) -> None:
    ticket = _ticket()
    for status in status_path:
        ticket = change_ticket_status(ticket=ticket, to_status=status)
    assert allowed_statuses(ticket) == allowed


def test_the_status_signal_is_sent_after_commit_with_the_move(
    operator: User, django_capture_on_commit_callbacks: Any
) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    ticket_status_changed.connect(receiver, dispatch_uid="test-receiver")
    try:
        ticket = _ticket()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            change_ticket_status(ticket=ticket, to_status=Status.OPEN, actor=operator, at=T0)
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        ticket_status_changed.disconnect(dispatch_uid="test-receiver")
    assert len(received) == 1
    assert received[0]["ticket_id"] == ticket.pk
    assert received[0]["from_status"] == Status.NEW
    assert received[0]["to_status"] == Status.OPEN
    assert received[0]["actor_id"] == operator.pk
    assert received[0]["at"] == T0


def test_no_signal_when_the_move_rolls_back(django_capture_on_commit_callbacks: Any) -> None:
    ticket = _ticket()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(IllegalTransition),
    ):
        change_ticket_status(ticket=ticket, to_status=Status.CLOSED)
    assert callbacks == []


def test_a_move_dated_before_the_ticket_was_created_is_a_validation_error() -> None:
    from django.core.exceptions import ValidationError

    ticket = _ticket()
    with pytest.raises(ValidationError) as error:
        change_ticket_status(
            ticket=ticket, to_status=Status.RESOLVED, at=T0 - dt.timedelta(minutes=1)
        )
    assert "status" in error.value.message_dict
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.resolved_at is None
