"""The tickets' part of the customer card: the section, the "open ticket" action, the list.

Registered from TicketsConfig.ready(), so `customers` shows tickets without importing them.
The SLA state comes only from `tickets.sla.ticket_sla`. `CardTicketsSerializer` is the
section's JSON form for the API's card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework import serializers

from core.api.serializers import SecondsField, UTCDateTimeField
from customers.card import (
    CardAction,
    CardContext,
    CardSection,
    api_list_url,
    register_action,
    register_section,
)
from customers.forms import CONTACT_CHANNELS, RECENT_CHOICES, limit_choices
from customers.models import Customer, Purchase
from customers.search import register_search_provider
from customers.selectors import Page
from customers.views import card_action, operator_required
from tickets.models import ACTIVE_STATUSES, DONE_STATUSES, Priority, Ticket, TicketMessage
from tickets.services import open_ticket
from tickets.sla import TicketSLA, ticket_sla

OPEN_SHOWN = 5
CLOSED_SHOWN = 3
PAGE_SIZE = 25


@dataclass(frozen=True)
class TicketRow:
    """A ticket as the card lists it: with its SLA clocks and its last public message."""

    ticket: Ticket
    sla: TicketSLA


def _with_last_message(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Annotate each ticket with its last public message (one query for the whole list)."""
    last = TicketMessage.objects.filter(ticket=OuterRef("pk"), is_internal=False).order_by(
        "-created_at", "-id"
    )
    return tickets.select_related("assignee", "sla_policy").annotate(
        last_message=Subquery(last.values("body")[:1]),
        last_message_at=Subquery(last.values("created_at")[:1]),
        last_message_author=Subquery(last.values("author_kind")[:1]),
    )


def _rows(tickets: list[Ticket], now: Any) -> list[TicketRow]:
    return [TicketRow(ticket=t, sla=ticket_sla(t, now=now)) for t in tickets]


def tickets_section(context: CardContext) -> dict[str, Any]:
    """Open tickets, freshest first, then the latest closed ones; five queries at most."""
    mine = Ticket.objects.filter(customer=context.customer)
    open_tickets = list(
        _with_last_message(mine.filter(status__in=ACTIVE_STATUSES)).order_by("-updated_at", "-pk")[
            :OPEN_SHOWN
        ]
    )
    closed = list(
        _with_last_message(mine.filter(status__in=DONE_STATUSES)).order_by("-updated_at", "-pk")[
            :CLOSED_SHOWN
        ]
    )
    counts = mine.aggregate(
        open=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)), total=Count("pk")
    )
    return {
        "open": _rows(open_tickets, context.now),
        "closed": _rows(closed, context.now),
        "open_count": counts["open"],
        "total": counts["total"],
    }


class CardSLAClockSerializer(serializers.Serializer):
    """One SLA clock: when it falls due, its target, and the time left (negative: over)."""

    state = serializers.CharField(help_text="on_time, at_risk, breached or met")
    due_at = UTCDateTimeField()
    target_seconds = SecondsField(source="target")
    remaining_seconds = SecondsField(
        source="remaining",
        help_text="Time left (negative: time over), frozen when the clock stopped.",
    )


class CardTicketSLASerializer(serializers.Serializer):
    state = serializers.CharField(help_text="none, on_time, at_risk, breached or met: the worst")
    first_response = CardSLAClockSerializer(allow_null=True)
    resolution = CardSLAClockSerializer(allow_null=True)


class CardTicketRowSerializer(serializers.Serializer):
    """A ticket as the card lists it: status, SLA clocks and the last public message."""

    id = serializers.IntegerField(source="ticket.pk")
    subject = serializers.CharField(source="ticket.subject")
    status = serializers.CharField(source="ticket.status")
    priority = serializers.CharField(source="ticket.priority")
    channel = serializers.CharField(source="ticket.channel")
    assignee = serializers.SerializerMethodField()
    created_at = UTCDateTimeField(source="ticket.created_at")
    updated_at = UTCDateTimeField(source="ticket.updated_at")
    last_message = serializers.CharField(source="ticket.last_message", allow_null=True)
    last_message_at = UTCDateTimeField(source="ticket.last_message_at", allow_null=True)
    last_message_author = serializers.CharField(
        source="ticket.last_message_author",
        allow_null=True,
        help_text="customer, operator or system",
    )
    sla = CardTicketSLASerializer()

    def get_assignee(self, row: TicketRow) -> str | None:
        user = row.ticket.assignee
        return None if user is None else str(user.get_full_name() or user.get_username())


class CardTicketsSerializer(serializers.Serializer):
    """Open tickets, freshest first, then the latest closed ones."""

    open = CardTicketRowSerializer(many=True)
    closed = CardTicketRowSerializer(many=True)
    open_count = serializers.IntegerField()
    total = serializers.IntegerField()
    all_url = serializers.SerializerMethodField()

    def get_all_url(self, data: Any) -> str:
        return api_list_url(self.context, "ticket-list", customer=self.context["customer"].pk)


def tickets_by_number(text: str) -> list[tuple[int, str]]:
    """Search provider: "42", "#42" or "T-42" finds the customer of ticket 42."""
    number = text.strip().lstrip("#").removeprefix("T-").removeprefix("t-").strip()
    if not number.isdigit() or len(number) > len(str(2**63)):
        return []
    label = _("ticket #%(number)s") % {"number": int(number)}
    return [
        (customer_id, label)
        for customer_id in Ticket.objects.filter(pk=int(number)).values_list(
            "customer_id", flat=True
        )
    ]


class OpenTicketForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=255)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"), choices=CONTACT_CHANNELS, initial="phone"
    )
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"), choices=Priority.choices, initial=Priority.NORMAL
    )
    body = forms.CharField(
        label=gettext_lazy("What the customer said"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    purchase = forms.ModelChoiceField(
        label=gettext_lazy("Purchase (warranty claim)"),
        queryset=Purchase.objects.none(),
        required=False,
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        purchases = Purchase.objects.filter(customer=customer)
        limit_choices(
            self.fields["purchase"],  # type: ignore[arg-type]
            purchases,
            purchases.select_related("product").order_by("-purchased_at", "-id")[:RECENT_CHOICES],
        )


@require_http_methods(["GET", "POST"])
@operator_required("tickets.add_ticket")
def open_ticket_view(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Open a ticket from the card; the operator who opens it owns it, worked from the card."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        data = form.cleaned_data
        user: Any = request.user
        return open_ticket(
            customer=customer,
            subject=data["subject"],
            channel=data["channel"],
            body=data["body"],
            actor=user,
            priority=data["priority"],
            purchase=data["purchase"],
            assignee=user,
            team=getattr(user, "team", None),
            personalized=True,
        )

    return card_action(
        request,
        customer_id,
        action_key="open_ticket",
        form_class=OpenTicketForm,
        perform=perform,
        title=_("Open ticket"),
        success_message=_("Ticket opened."),
    )


@require_GET
@operator_required("tickets.view_ticket")
def customer_tickets(request: HttpRequest, customer_id: int) -> HttpResponse:
    """All of a customer's tickets, newest first, paged."""
    customer = get_object_or_404(Customer, pk=customer_id)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    mine = Ticket.objects.filter(customer=customer)
    items = list(
        _with_last_message(mine).order_by("-created_at", "-pk")[offset : offset + PAGE_SIZE]
    )
    page = Page(
        items=_rows(items, timezone.now()), count=mine.count(), offset=offset, limit=PAGE_SIZE
    )
    return render(request, "tickets/customer_tickets.html", {"customer": customer, "page": page})


app_name = "ticket_card"

urlpatterns = [
    path("<int:customer_id>/tickets/", customer_tickets, name="list"),
    path("<int:customer_id>/tickets/new/", open_ticket_view, name="open"),
]


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
