"""Ticket reads with their query shapes: the queue, the ticket page, a customer's tickets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone

from customers.selectors import Page, customer_page
from tickets import extensions
from tickets.models import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    Priority,
    Sentiment,
    Status,
    Ticket,
    TicketContact,
    TicketEvent,
    TicketMessage,
)
from tickets.sla import TicketSLA, ticket_sla

if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import WithAnnotations

# How many open and closed tickets the card lists before its "all N" link.
OPEN_SHOWN = 5
CLOSED_SHOWN = 3


def queue_tickets() -> QuerySet[Ticket]:
    """Tickets with what a queue row shows: customer, assignee, team, SLA policy, and whether
    the customer wrote a message that reads negative."""
    negative = TicketMessage.objects.filter(
        ticket=OuterRef("pk"),
        author_kind=TicketMessage.Author.CUSTOMER,
        sentiment=Sentiment.NEGATIVE,
    )
    return Ticket.objects.select_related("customer", "assignee", "team", "sla_policy").annotate(
        has_negative_message=Exists(negative)
    )


@dataclass(frozen=True)
class WarrantyClaim:
    """The warranty of the purchase a ticket claims on, read at the day the ticket was opened.

    `state`: "valid" (covered when opened), "ended" (ended before the ticket was opened) or
    "none" (the purchase carries no warranty). `ended_since` says a valid claim's warranty has
    ended by `today`: the claim still stands, but a new one would not.
    """

    state: str
    ends_on: dt.date | None
    ended_since: bool


def warranty_claim(ticket: Ticket, *, today: dt.date) -> WarrantyClaim | None:
    """How the purchase a ticket names stands under warranty; None for a ticket without one."""
    purchase = ticket.purchase if ticket.purchase_id else None
    if purchase is None:
        return None
    ends_on = purchase.warranty_ends_on
    if ends_on is None:
        return WarrantyClaim(state="none", ends_on=None, ended_since=False)
    opened_on = timezone.localdate(ticket.created_at)
    if ends_on < opened_on:
        return WarrantyClaim(state="ended", ends_on=ends_on, ended_since=False)
    return WarrantyClaim(state="valid", ends_on=ends_on, ended_since=ends_on < today)


@dataclass(frozen=True)
class TicketPage:
    ticket: Ticket
    messages: list[TicketMessage]
    events: list[TicketEvent]
    contacts: list[TicketContact]
    history: list[HistoryLine]
    warranty: WarrantyClaim | None


@dataclass(frozen=True)
class HistoryLine:
    """An event as a person reads it: labels in their language, names rather than usernames."""

    event: TicketEvent
    from_label: str
    to_label: str


def history_lines(events: list[TicketEvent]) -> list[HistoryLine]:
    """Translate the stored codes of ticket events (status, priority, assignee's username).

    The events keep the codes (stable for exports and the API); this reads the usernames of
    assignment events in one query and shows each user's full name.
    """
    usernames = {
        value
        for event in events
        if event.kind == TicketEvent.Kind.ASSIGNED
        for value in (event.from_value, event.to_value)
        if value
    }
    names = (
        {
            user.get_username(): str(user)
            for user in get_user_model().objects.filter(username__in=usernames)
        }
        if usernames
        else {}
    )

    def label(event: TicketEvent, value: str) -> str:
        if not value:
            return ""
        if event.kind in (TicketEvent.Kind.STATUS, TicketEvent.Kind.CREATED):
            return str(Status(value).label) if value in Status.values else value
        if event.kind == TicketEvent.Kind.PRIORITY:
            return str(Priority(value).label) if value in Priority.values else value
        if event.kind == TicketEvent.Kind.ASSIGNED:
            return names.get(value, value)
        return value

    return [
        HistoryLine(
            event=event,
            from_label=label(event, event.from_value),
            to_label=label(event, event.to_value),
        )
        for event in events
    ]


def ticket_page(*, ticket_id: int) -> TicketPage:
    """One ticket with its conversation, history and customer contacts, in a fixed few queries."""
    ticket = get_object_or_404(
        Ticket.objects.select_related(
            "customer", "assignee", "team", "sla_policy", "purchase__product"
        ).prefetch_related(
            Prefetch(
                "messages",
                queryset=TicketMessage.objects.select_related(
                    "author_user", *extensions.MESSAGE_RELATED
                ).prefetch_related("attachments"),
            ),
            Prefetch("events", queryset=TicketEvent.objects.select_related("actor")),
            Prefetch("contacts", queryset=TicketContact.objects.select_related("interaction")),
        ),
        pk=ticket_id,
    )
    events = list(ticket.events.all())
    return TicketPage(
        ticket=ticket,
        messages=list(ticket.messages.all()),
        events=events,
        contacts=list(ticket.contacts.all()),
        history=history_lines(events),
        warranty=warranty_claim(ticket, today=timezone.localdate()),
    )


# --- A customer's tickets, as the card and its "all N" list show them --------------------------


@dataclass(frozen=True)
class TicketRow:
    """A ticket as the card lists it: with its SLA clocks and its last public message."""

    ticket: Ticket
    sla: TicketSLA
    last_message: str | None
    last_message_at: dt.datetime | None
    # customer, operator or system
    last_message_author: str | None


@dataclass(frozen=True)
class CustomerTickets:
    """A customer's open tickets, freshest first, then the latest closed ones, and the counts."""

    open: list[TicketRow]
    closed: list[TicketRow]
    open_count: int
    total: int


class _LastMessage(TypedDict):
    last_message: str | None
    last_message_at: dt.datetime | None
    last_message_author: str | None


def _with_last_message(
    tickets: QuerySet[Ticket],
) -> QuerySet[WithAnnotations[Ticket, _LastMessage]]:
    """Annotate each ticket with its last public message (one query for the whole list)."""
    last = TicketMessage.objects.filter(ticket=OuterRef("pk"), is_internal=False).order_by(
        "-created_at", "-id"
    )
    return tickets.select_related("assignee", "sla_policy").annotate(
        last_message=Subquery(last.values("body")[:1]),
        last_message_at=Subquery(last.values("created_at")[:1]),
        last_message_author=Subquery(last.values("author_kind")[:1]),
    )


def _rows(
    tickets: Iterable[WithAnnotations[Ticket, _LastMessage]], now: dt.datetime
) -> list[TicketRow]:
    """The rows of tickets read through `_with_last_message`."""
    return [
        TicketRow(
            ticket=ticket,
            sla=ticket_sla(ticket, now=now),
            last_message=ticket.last_message,
            last_message_at=ticket.last_message_at,
            last_message_author=ticket.last_message_author,
        )
        for ticket in tickets
    ]


_FRESHEST = ("-updated_at", "-pk")


def _open_tickets(customer_id: int) -> QuerySet[Any]:
    mine = Ticket.objects.filter(customer_id=customer_id, status__in=ACTIVE_STATUSES)
    return _with_last_message(mine).order_by(*_FRESHEST)


def _closed_tickets(customer_id: int) -> QuerySet[Any]:
    mine = Ticket.objects.filter(customer_id=customer_id, status__in=DONE_STATUSES)
    return _with_last_message(mine).order_by(*_FRESHEST)


def customer_tickets(customer_id: int, *, now: dt.datetime) -> CustomerTickets:
    """Open tickets, freshest first, then the latest closed ones, each list with its count
    (two queries)."""
    open_tickets = customer_page(
        "open tickets", _open_tickets, customer_id, offset=0, limit=OPEN_SHOWN
    )
    closed = customer_page(
        "closed tickets", _closed_tickets, customer_id, offset=0, limit=CLOSED_SHOWN
    )
    return CustomerTickets(
        open=_rows(open_tickets.items, now),
        closed=_rows(closed.items, now),
        open_count=open_tickets.count,
        # Every status is active or done (the status machine knows no other), so the two
        # counts add up to all of the customer's tickets.
        total=open_tickets.count + closed.count,
    )


def customer_ticket_page(customer_id: int, *, offset: int, limit: int, now: dt.datetime) -> Page:
    """A page of all of a customer's tickets as `TicketRow`s, newest first (2 queries)."""
    mine = Ticket.objects.filter(customer_id=customer_id)
    items = _with_last_message(mine).order_by("-created_at", "-pk")[offset : offset + limit]
    return Page(items=_rows(items, now), count=mine.count(), offset=offset, limit=limit)
