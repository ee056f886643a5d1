"""The tickets' part of the customer card: the section, the "open ticket" action, the search.

Registered from TicketsConfig.ready(), so `customers` shows tickets without importing them.
The section's rows come from `tickets.selectors.customer_tickets` (SLA state only from
`tickets.sla.ticket_sla`), its JSON form is `tickets.api.CardTicketsSerializer`, the action's
view `tickets.views.open_ticket_view`, the search provider `tickets.search.tickets_by_number`.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from customers.card import CardAction, CardContext, CardSection, register_action, register_section
from customers.search import register_search_provider
from tickets.api import CardTicketsSerializer
from tickets.search import tickets_by_number
from tickets.selectors import CustomerTickets, customer_tickets


def tickets_section(context: CardContext) -> CustomerTickets:
    """The section's loader: the customer's tickets at the card's moment."""
    return customer_tickets(context.customer.pk, now=context.now)


def register() -> None:
    """Put the tickets' section, action and search on the card (from TicketsConfig.ready)."""
    register_section(
        CardSection(
            key="tickets",
            title=gettext_lazy("Tickets"),
            position=30,
            template="tickets/card_tickets.html",
            load=tickets_section,
            serializer=CardTicketsSerializer,
            width="half",
            permission="tickets.view_ticket",
        )
    )
    register_action(
        CardAction(
            key="open_ticket",
            label=gettext_lazy("Open ticket"),
            position=20,
            url_name="ticket_card:open",
            permission="tickets.add_ticket",
            refreshes=("tickets",),
        )
    )
    register_search_provider("ticket_number", tickets_by_number)
