"""What the signed-in home page shows an operator: their recent cards and their open tickets.

Project-level (crm may read every app), so `customers` need not know tickets.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from customers.models import Customer
from tickets.models import ACTIVE_STATUSES, Ticket
from tickets.sla import ticket_sla

register = template.Library()

MY_TICKETS_SHOWN = 10


@register.inclusion_tag("crm/recent_customers.html", takes_context=True)
def recent_customers(context: Any) -> dict[str, Any]:
    """The cards this operator opened last (kept in the session by the card view)."""
    request = context["request"]
    ids = [int(i) for i in request.session.get("recent_customers", [])]
    by_id = Customer.objects.in_bulk(ids) if ids else {}
    return {"customers": [by_id[i] for i in ids if i in by_id]}


@register.inclusion_tag("crm/my_tickets.html", takes_context=True)
def my_open_tickets(context: Any) -> dict[str, Any]:
    """Open tickets assigned to the signed-in operator, most urgent SLA first."""
    user = context["request"].user
    tickets = list(
        Ticket.objects.filter(assignee=user, status__in=ACTIVE_STATUSES)
        .select_related("customer")
        .order_by("resolution_due_at", "-created_at")[:MY_TICKETS_SHOWN]
    )
    now = timezone.now()
    count = Ticket.objects.filter(assignee=user, status__in=ACTIVE_STATUSES).count()
    return {"rows": [(t, ticket_sla(t, now=now)) for t in tickets], "count": count}
