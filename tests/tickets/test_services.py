"""Ticket services: the workflow's moves and their effects, the conversation, SLA, contacts."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Mapping

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from customers.models import Channel
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    SLAPolicyFactory,
    TicketFactory,
)
from tickets.models import TRANSITIONS, Priority, Status, Ticket, TicketEvent, TicketMessage
from tickets.services import (
    add_message,
    assign_ticket,
    change_ticket_priority,
    change_ticket_status,
    open_ticket,
    record_customer_contact,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)
STATUSES = list(Status)


def _path_from_new(target: str) -> list[str]:
    """The shortest legal walk from "new" to `target`, following the workflow itself."""
    previous: dict[str, str | None] = {Status.NEW: None}
    queue = deque([Status.NEW.value])
    while queue:
        status = queue.popleft()
        for nxt in TRANSITIONS[status]:
            if nxt not in previous:
                previous[nxt] = status
                queue.append(nxt)
    path: list[str] = []
    step: str | None = target
    while step is not None and step != Status.NEW:
        path.append(step)
        step = previous[step]
    return path[::-1]


def _ticket_in(status: str) -> Ticket:
    ticket = TicketFactory.create(created_at=T0)
    at = T0
    for step in _path_from_new(status):
        at += dt.timedelta(hours=1)
        ticket = change_ticket_status(ticket=ticket, to_status=step, at=at)
    assert ticket.status == status
    return ticket


def _row(ticket: Ticket) -> Mapping[str, object]:
    return Ticket.objects.filter(pk=ticket.pk).values().get()


LEGAL = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [(a, b) for a in STATUSES for b in STATUSES if a != b and b not in TRANSITIONS[a]]


def test_every_status_is_reachable_from_new() -> None:
    for status in STATUSES:
        assert status == Status.NEW or _path_from_new(status)


@pytest.mark.parametrize(("from_status", "to_status"), LEGAL)
def test_every_move_the_workflow_allows_is_made(
    from_status: str, to_status: str, operator: User
) -> None:
    ticket = _ticket_in(from_status)

    moved = change_ticket_status(ticket=ticket, to_status=to_status, actor=operator)

    assert Ticket.objects.get(pk=ticket.pk).status == to_status == moved.status
    event = ticket.events.filter(kind=TicketEvent.Kind.STATUS).latest("created_at", "id")
    assert (event.from_value, event.to_value, event.actor) == (from_status, to_status, operator)


@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_every_move_the_workflow_does_not_allow_is_refused_and_changes_nothing(
    from_status: str, to_status: str
) -> None:
    ticket = _ticket_in(from_status)
    before = _row(ticket)
    events = ticket.events.count()

    with pytest.raises(ValidationError) as caught:
        change_ticket_status(ticket=ticket, to_status=to_status)

    assert "status" in caught.value.message_dict
    assert _row(ticket) == before
    assert ticket.events.count() == events


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [(Status.CLOSED, Status.OPEN), (Status.NEW, Status.CLOSED), (Status.OPEN, Status.NEW)],
)
def test_named_dead_ends_of_the_workflow(from_status: str, to_status: str) -> None:
    # Pinned by name, so that a widened TRANSITIONS table does not silently allow them.
    with pytest.raises(ValidationError):
        change_ticket_status(ticket=_ticket_in(from_status), to_status=to_status)


def test_moving_to_the_current_status_records_nothing() -> None:
    ticket = _ticket_in(Status.OPEN)
    events = ticket.events.count()

    change_ticket_status(ticket=ticket, to_status=Status.OPEN)

    assert ticket.events.count() == events


def test_resolving_stamps_the_resolution_time() -> None:
    ticket = _ticket_in(Status.OPEN)
    at = T0 + dt.timedelta(days=1)

    resolved = change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, at=at)

    assert resolved.resolved_at == at
    assert Ticket.objects.get(pk=ticket.pk).resolved_at == at


def test_a_ticket_resolved_at_first_contact_goes_straight_from_new() -> None:
    resolved = change_ticket_status(
        ticket=TicketFactory.create(created_at=T0), to_status=Status.RESOLVED, at=T0
    )

    assert (resolved.status, resolved.resolved_at) == (Status.RESOLVED, T0)


def test_reopening_clears_the_resolution_time_and_counts_the_reopen() -> None:
    ticket = _ticket_in(Status.RESOLVED)

    reopened = change_ticket_status(ticket=ticket, to_status=Status.OPEN)
    reopened = change_ticket_status(ticket=reopened, to_status=Status.RESOLVED)
    reopened = change_ticket_status(ticket=reopened, to_status=Status.OPEN)

    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.resolved_at is None
    assert stored.reopened_count == 2


def test_closing_stamps_the_close_time_and_keeps_the_resolution_time() -> None:
    ticket = _ticket_in(Status.RESOLVED)
    resolved_at = ticket.resolved_at
    at = T0 + dt.timedelta(days=3)

    change_ticket_status(ticket=ticket, to_status=Status.CLOSED, at=at)

    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.closed_at, stored.resolved_at) == (at, resolved_at)


# --- Opening and SLA -------------------------------------------------------------------------


def test_opening_a_ticket_applies_the_active_sla_of_its_priority(operator: User) -> None:
    SLAPolicyFactory.create(
        priority=Priority.HIGH, first_response_minutes=15, resolution_minutes=120, is_active=False
    )
    policy = SLAPolicyFactory.create(
        priority=Priority.HIGH, first_response_minutes=30, resolution_minutes=240
    )
    SLAPolicyFactory.create(
        priority=Priority.NORMAL, first_response_minutes=60, resolution_minutes=480
    )

    ticket = open_ticket(
        customer=CustomerFactory.create(),
        subject="Broken kettle",
        channel=Channel.PHONE,
        priority=Priority.HIGH,
        created_at=T0,
        actor=operator,
    )

    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.sla_policy == policy
    assert stored.first_response_due_at == T0 + dt.timedelta(minutes=30)
    assert stored.resolution_due_at == T0 + dt.timedelta(hours=4)


def test_a_ticket_of_a_priority_without_sla_has_no_due_times() -> None:
    SLAPolicyFactory.create(priority=Priority.NORMAL)

    ticket = open_ticket(
        customer=CustomerFactory.create(), subject="Question", channel=Channel.EMAIL, priority="low"
    )

    assert ticket.sla_policy is None
    assert (ticket.first_response_due_at, ticket.resolution_due_at) == (None, None)


def test_opening_records_who_opened_it_and_the_customers_first_words(operator: User) -> None:
    customer = CustomerFactory.create()
    interaction = InteractionFactory.create(customer=customer)

    ticket = open_ticket(
        customer=customer,
        subject="Broken kettle",
        channel=Channel.PHONE,
        body="It does not turn on.",
        actor=operator,
        interaction=interaction,
        created_at=T0,
    )

    event = ticket.events.get()
    assert (event.kind, event.actor, event.to_value) == ("created", operator, Status.NEW)
    message = ticket.messages.get()
    assert (message.author_kind, message.body, message.created_at) == (
        TicketMessage.Author.CUSTOMER,
        "It does not turn on.",
        T0,
    )
    assert list(ticket.interactions.all()) == [interaction]


def test_opening_a_ticket_without_subject_is_refused_and_writes_nothing() -> None:
    customer = CustomerFactory.create()

    with pytest.raises(ValidationError) as caught:
        open_ticket(customer=customer, subject="", channel=Channel.PHONE)

    assert "subject" in caught.value.message_dict
    assert not Ticket.objects.exists()


# --- Conversation ----------------------------------------------------------------------------


def test_the_first_public_operator_reply_sets_the_first_response_time(operator: User) -> None:
    ticket = TicketFactory.create(created_at=T0)
    reply_at = T0 + dt.timedelta(minutes=12)

    add_message(
        ticket=ticket,
        body="We are on it.",
        author_kind="operator",
        author_user=operator,
        at=reply_at,
    )

    assert Ticket.objects.get(pk=ticket.pk).first_response_at == reply_at


def test_an_internal_note_is_no_response(operator: User) -> None:
    ticket = TicketFactory.create(created_at=T0)

    add_message(
        ticket=ticket,
        body="Customer sounds upset",
        author_kind="operator",
        author_user=operator,
        is_internal=True,
        at=T0 + dt.timedelta(minutes=5),
    )

    assert Ticket.objects.get(pk=ticket.pk).first_response_at is None


def test_a_second_reply_does_not_move_the_first_response_time(operator: User) -> None:
    ticket = TicketFactory.create(created_at=T0)
    first = T0 + dt.timedelta(minutes=12)
    add_message(
        ticket=ticket, body="On it.", author_kind="operator", author_user=operator, at=first
    )

    add_message(
        ticket=ticket,
        body="Fixed.",
        author_kind="operator",
        author_user=operator,
        at=first + dt.timedelta(hours=1),
    )

    assert Ticket.objects.get(pk=ticket.pk).first_response_at == first


def test_a_customer_message_is_no_response() -> None:
    ticket = TicketFactory.create(created_at=T0)

    add_message(ticket=ticket, body="Hello?", author_kind="customer", at=T0 + dt.timedelta(hours=1))

    assert Ticket.objects.get(pk=ticket.pk).first_response_at is None


def test_a_customer_message_moves_a_pending_ticket_back_to_open() -> None:
    ticket = _ticket_in(Status.PENDING)

    add_message(ticket=ticket, body="Here is the photo.", author_kind="customer")

    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN
    assert ticket.events.filter(from_value=Status.PENDING, to_value=Status.OPEN).exists()


def test_an_operator_message_leaves_a_pending_ticket_pending(operator: User) -> None:
    ticket = _ticket_in(Status.PENDING)

    add_message(ticket=ticket, body="Any news?", author_kind="operator", author_user=operator)

    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


@pytest.mark.parametrize("body", ["", "   \n"])
def test_an_empty_message_is_refused(body: str) -> None:
    ticket = TicketFactory.create()

    with pytest.raises(ValidationError) as caught:
        add_message(ticket=ticket, body=body, author_kind="customer")

    assert "body" in caught.value.message_dict
    assert not ticket.messages.exists()


def test_a_customer_cannot_write_an_internal_note() -> None:
    ticket = TicketFactory.create()

    with pytest.raises(ValidationError):
        add_message(ticket=ticket, body="Secret", author_kind="customer", is_internal=True)

    assert not ticket.messages.exists()


# --- Customer contacts -----------------------------------------------------------------------


def test_another_contact_about_the_ticket_is_counted(operator: User) -> None:
    ticket = TicketFactory.create()
    call = InteractionFactory.create(customer=ticket.customer)

    updated = record_customer_contact(ticket=ticket, interaction=call, actor=operator)

    assert updated.customer_contacts == Ticket.objects.get(pk=ticket.pk).customer_contacts == 2
    assert list(ticket.interactions.all()) == [call]
    event = ticket.events.get(kind=TicketEvent.Kind.CONTACT)
    assert (event.actor, event.to_value, event.created_at) == (operator, "2", call.started_at)


def test_a_contact_from_another_customer_is_refused_and_not_counted() -> None:
    ticket = TicketFactory.create()
    strangers_call = InteractionFactory.create(customer=CustomerFactory.create())

    with pytest.raises(ValidationError) as caught:
        record_customer_contact(ticket=ticket, interaction=strangers_call)

    assert "interaction" in caught.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).customer_contacts == 1
    assert not ticket.interactions.exists()


def test_assigning_records_who_gave_the_ticket_to_whom(operator: User, supervisor: User) -> None:
    ticket = TicketFactory.create()

    assign_ticket(ticket=ticket, assignee=operator, actor=supervisor)
    assign_ticket(ticket=ticket, assignee=operator, actor=supervisor)  # no change, no event

    ticket.refresh_from_db()
    assert ticket.assignee == operator
    events = list(ticket.events.filter(kind=TicketEvent.Kind.ASSIGNED))
    assert [(e.from_value, e.to_value, e.actor) for e in events] == [("", "olga", supervisor)]


def test_raising_the_priority_applies_the_new_sla_from_the_ticket_start(operator: User) -> None:
    SLAPolicyFactory.create(
        priority=Priority.NORMAL, first_response_minutes=60, resolution_minutes=480
    )
    urgent = SLAPolicyFactory.create(
        priority=Priority.URGENT, first_response_minutes=15, resolution_minutes=120
    )
    ticket = open_ticket(
        customer=CustomerFactory.create(), subject="Server down", channel=Channel.PHONE
    )

    ticket = change_ticket_priority(ticket=ticket, priority=Priority.URGENT, actor=operator)

    assert ticket.sla_policy == urgent
    assert ticket.first_response_due_at == ticket.created_at + dt.timedelta(minutes=15)
    assert ticket.resolution_due_at == ticket.created_at + dt.timedelta(minutes=120)
    event = ticket.events.get(kind=TicketEvent.Kind.PRIORITY)
    assert (event.from_value, event.to_value, event.actor) == ("normal", "urgent", operator)


def test_an_unknown_priority_is_refused() -> None:
    ticket = TicketFactory.create()
    with pytest.raises(ValidationError) as error:
        change_ticket_priority(ticket=ticket, priority="whenever")
    assert "priority" in error.value.message_dict
    ticket.refresh_from_db()
    assert ticket.priority == Priority.NORMAL
