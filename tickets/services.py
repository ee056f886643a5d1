"""Ticket writes: opening, moving through the workflow, conversation.

The allowed moves are defined on the model (`tickets.models.TRANSITIONS`); these services
apply their effects (timestamps, counters, history) so that every caller gets the same ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Customer, Interaction
from tickets import live
from tickets.models import (
    TRANSITIONS,
    Priority,
    SLAPolicy,
    Status,
    Ticket,
    TicketContact,
    TicketEvent,
    TicketMessage,
)
from tickets.signals import ticket_message_added, ticket_status_changed
from tickets.sla import due_times

SLA_FIELDS = (
    "sla_policy",
    "first_response_due_at",
    "first_response_at_risk_at",
    "resolution_due_at",
    "resolution_at_risk_at",
)


def apply_sla(ticket: Ticket) -> None:
    """Attach the active SLA policy for the ticket's priority and set its due times.

    With business hours the times are walked through the policy's schedule (tickets.sla);
    without, they are wall-clock. The at-risk moments are stored beside the due times.
    """
    policy = SLAPolicy.objects.filter(priority=ticket.priority, is_active=True).first()
    ticket.sla_policy = policy
    if policy is None:
        ticket.first_response_due_at = ticket.first_response_at_risk_at = None
        ticket.resolution_due_at = ticket.resolution_at_risk_at = None
        return
    times = due_times(policy, start=ticket.created_at)
    ticket.first_response_due_at = times.first_response_due_at
    ticket.first_response_at_risk_at = times.first_response_at_risk_at
    ticket.resolution_due_at = times.resolution_due_at
    ticket.resolution_at_risk_at = times.resolution_at_risk_at


@transaction.atomic
def open_ticket(
    *,
    customer: Customer,
    subject: str,
    channel: str,
    body: str = "",
    actor: User | None = None,
    interaction: Interaction | None = None,
    **fields: Any,
) -> Ticket:
    """Open a ticket for a customer, with the customer's first message if there is one."""
    ticket = Ticket(customer=customer, subject=subject, channel=channel, **fields)
    if ticket.created_at is None:
        ticket.created_at = timezone.now()
    ticket.full_clean()
    apply_sla(ticket)
    ticket.save()
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.CREATED,
        actor=actor,
        to_value=ticket.status,
        created_at=ticket.created_at,
    )
    if body:
        TicketMessage.objects.create(
            ticket=ticket,
            author_kind=TicketMessage.Author.CUSTOMER,
            body=body,
            channel=channel,
            created_at=ticket.created_at,
        )
    if interaction is not None:
        TicketContact.objects.create(ticket=ticket, interaction=interaction)
    live.ticket_changed(ticket=ticket, change="opened")
    return ticket


@transaction.atomic
def change_ticket_status(
    *, ticket: Ticket, to_status: str, actor: User | None = None, at: dt.datetime | None = None
) -> Ticket:
    """Move a ticket to `to_status` if the workflow allows it, and record who did it.

    Resolving stamps the resolution time; reopening counts the reopen and clears it;
    closing stamps the close time.
    """
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    from_status = ticket.status
    if to_status == from_status:
        return ticket
    ticket.check_transition(to_status)
    now = at or timezone.now()
    if now < ticket.created_at:
        raise ValidationError(
            {"status": _("A ticket cannot change status before it was created.")},
            code="before_creation",
        )
    if to_status == Status.RESOLVED:
        ticket.resolved_at = now
    elif to_status == Status.CLOSED:
        ticket.closed_at = now
    elif from_status == Status.RESOLVED:  # reopened
        ticket.resolved_at = None
        ticket.reopened_count += 1
    ticket.status = to_status
    ticket.save()
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.STATUS,
        actor=actor,
        from_value=from_status,
        to_value=to_status,
        created_at=now,
    )
    live.ticket_changed(ticket=ticket, change="status")
    ticket_id, actor_id = ticket.pk, actor.pk if actor else None
    transaction.on_commit(
        lambda: ticket_status_changed.send(
            sender=Ticket,
            ticket_id=ticket_id,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor_id,
            at=now,
        )
    )
    return ticket


def allowed_statuses(ticket: Ticket) -> list[str]:
    """The statuses the ticket may move to now, in workflow order (for buttons and menus)."""
    allowed = TRANSITIONS.get(ticket.status, frozenset())
    return [status for status in Status.values if status in allowed]


@transaction.atomic
def add_message(
    *,
    ticket: Ticket,
    body: str,
    author_kind: str,
    author_user: User | None = None,
    is_internal: bool = False,
    channel: str = "",
    at: dt.datetime | None = None,
) -> TicketMessage:
    """Add a message to the conversation.

    The first operator reply that is not an internal note sets the first response time. A
    customer's message moves a pending ticket back to open and reopens a resolved one (as
    Zendesk and Freshdesk do); on a closed ticket it opens a new ticket for the same customer,
    and the message returned belongs to that one.
    """
    if not body.strip():
        raise ValidationError({"body": _("Write a message.")})
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    now = at or timezone.now()
    if author_kind == TicketMessage.Author.CUSTOMER and ticket.status == Status.CLOSED:
        follow_up = open_ticket(
            customer=ticket.customer,
            subject=ticket.subject,
            channel=channel or ticket.channel,
            body=body,
            priority=ticket.priority,
            team=ticket.team,
            purchase=ticket.purchase,
            created_at=now,
        )
        return follow_up.messages.get()
    message = TicketMessage(
        ticket=ticket,
        body=body,
        author_kind=author_kind,
        author_user=author_user,
        is_internal=is_internal,
        channel=channel or ticket.channel,
        created_at=now,
    )
    message.full_clean()
    message.save()
    if (
        author_kind == TicketMessage.Author.OPERATOR
        and not is_internal
        and ticket.first_response_at is None
    ):
        ticket.first_response_at = now
        ticket.save(update_fields=["first_response_at", "updated_at"])
    if author_kind == TicketMessage.Author.CUSTOMER and ticket.status in (
        Status.PENDING,
        Status.RESOLVED,
    ):
        change_ticket_status(ticket=ticket, to_status=Status.OPEN, at=now)
    ticket_message_added.send(sender=TicketMessage, message=message)
    live.message_added(message=message)
    return message


@transaction.atomic
def record_customer_contact(
    *, ticket: Ticket, interaction: Interaction, actor: User | None = None
) -> Ticket:
    """Count another contact from the customer about this ticket (for first contact resolution)."""
    if interaction.customer_id != ticket.customer_id:
        raise ValidationError({"interaction": _("The contact is from another customer.")})
    TicketContact.objects.create(ticket=ticket, interaction=interaction)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket.customer_contacts += 1
    ticket.save(update_fields=["customer_contacts", "updated_at"])
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.CONTACT,
        actor=actor,
        to_value=str(ticket.customer_contacts),
        created_at=interaction.started_at,
    )
    return ticket


# Whoever holds it may work a ticket (operators, supervisors, admins), by role or by grant.
WORK_TICKETS_PERMISSION = "tickets.change_ticket"


def may_work_tickets(user: User) -> bool:
    """Whether a ticket may be given to `user`: active staff allowed to work tickets."""
    return user.is_active and user.is_staff and user.has_perm(WORK_TICKETS_PERMISSION)


@transaction.atomic
def assign_ticket(
    *,
    ticket: Ticket,
    assignee: User | None,
    actor: User | None = None,
    at: dt.datetime | None = None,
) -> Ticket:
    """Give the ticket to `assignee` (None: back to the queue) and record who did it.

    An assignee must be active staff allowed to work tickets (`tickets.change_ticket`).
    """
    if assignee is not None and not may_work_tickets(assignee):
        raise ValidationError(
            {"assignee": _("Assign the ticket to active staff who may work tickets.")}
        )
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return ticket
    previous = ticket.assignee
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.ASSIGNED,
        actor=actor,
        from_value=previous.get_username() if previous else "",
        to_value=assignee.get_username() if assignee else "",
        created_at=at or timezone.now(),
    )
    live.ticket_assigned(ticket=ticket, assignee=assignee, actor=actor, event_id=event.pk)
    return ticket


@transaction.atomic
def change_ticket_priority(
    *,
    ticket: Ticket,
    priority: str,
    actor: User | None = None,
    at: dt.datetime | None = None,
) -> Ticket:
    """Change the priority; the SLA targets of the new priority apply from the ticket's start."""
    if priority not in Priority.values:
        raise ValidationError({"priority": _("Choose a valid priority.")})
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    previous = ticket.priority
    if previous == priority:
        return ticket
    ticket.priority = priority
    apply_sla(ticket)
    ticket.save(update_fields=["priority", *SLA_FIELDS, "updated_at"])
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.PRIORITY,
        actor=actor,
        from_value=previous,
        to_value=priority,
        created_at=at or timezone.now(),
    )
    live.ticket_changed(ticket=ticket, change="priority")
    return ticket
