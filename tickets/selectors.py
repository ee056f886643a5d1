"""Ticket reads with their query shapes: the queue and the ticket page."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from tickets.models import Ticket, TicketContact, TicketEvent, TicketMessage


def queue_tickets() -> QuerySet[Ticket]:
    """Tickets with what a queue row shows: customer, assignee, team and SLA policy."""
    return Ticket.objects.select_related("customer", "assignee", "team", "sla_policy")


@dataclass(frozen=True)
class TicketPage:
    ticket: Ticket
    messages: list[TicketMessage]
    events: list[TicketEvent]
    contacts: list[TicketContact]


def ticket_page(*, ticket_id: int) -> TicketPage:
    """One ticket with its conversation, history and customer contacts, in a fixed few queries."""
    ticket = get_object_or_404(
        Ticket.objects.select_related(
            "customer", "assignee", "team", "sla_policy", "purchase__product"
        ).prefetch_related(
            Prefetch("messages", queryset=TicketMessage.objects.select_related("author_user")),
            Prefetch("events", queryset=TicketEvent.objects.select_related("actor")),
            Prefetch("contacts", queryset=TicketContact.objects.select_related("interaction")),
        ),
        pk=ticket_id,
    )
    return TicketPage(
        ticket=ticket,
        messages=list(ticket.messages.all()),
        events=list(ticket.events.all()),
        contacts=list(ticket.contacts.all()),
    )
