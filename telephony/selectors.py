"""Reads of the telephony channel: the caller log, the screen-pop's caller cards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import User
from core.dates import site_day_start
from customers.models import Channel, Customer, Interaction
from telephony.models import Call, Direction
from tickets.models import ACTIVE_STATUSES, Ticket

# Inbound, over, nobody answered, nobody called back: the calls the caller log lists first.
NEEDS_CALL_BACK = Q(
    direction=Direction.INBOUND,
    answered_at__isnull=True,
    ended_at__isnull=False,
    called_back_by__isnull=True,
)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The start and the end of a day in the site's time zone."""
    return site_day_start(day), site_day_start(day + dt.timedelta(days=1))


def calls_visible_to(user: User) -> QuerySet[Call]:
    """The calls of the user's team, those that rang or were answered by the user, and those
    no team took; every call for a user in no team (a supervisor over all queues)."""
    if user.team_id is None:
        return Call.objects.all()
    return Call.objects.filter(
        Q(team_id=user.team_id) | Q(team__isnull=True) | Q(operators=user) | Q(answered_by=user)
    ).distinct()


def caller_log(*, user: User, day: dt.date) -> QuerySet[Call]:
    """The day's calls of the user's team (its queue), those that rang the user and those
    no team took; missed and abandoned calls still to call back first, then newest first.

    A fixed number of queries whatever the number of calls (the operators prefetched)."""
    start, end = day_bounds(day)
    calls = calls_visible_to(user).filter(rang_at__gte=start, rang_at__lt=end)
    return (
        calls.annotate(
            needs_call_back=Case(
                When(NEEDS_CALL_BACK, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .select_related("customer", "answered_by", "called_back_by")
        .prefetch_related("operators")
        .order_by("-needs_call_back", "-rang_at", "-id")
    )


# The screen-pop panel lists at most this many customers sharing a number (a switchboard).
SCREEN_POP_CANDIDATES = 5


@dataclass(frozen=True)
class CallerCard:
    """What the operator sees the moment a call rings: who, how busy, when we last spoke."""

    customer_id: int
    full_name: str
    company: str
    open_tickets: int
    last_contact_at: dt.datetime | None
    last_contact_channel: str


def caller_cards(*, customer_ids: list[int], call_id: int | None) -> list[CallerCard]:
    """The screen-pop's compact cards of the customers with the caller's number, in one query
    (open tickets and the last contact before this call are subqueries of it)."""
    if not customer_ids:
        return []
    contacts = Interaction.objects.filter(customer=OuterRef("pk"))
    if call_id is not None:
        contacts = contacts.exclude(call__id=call_id)
    last_contact = contacts.order_by("-started_at", "-id")
    open_tickets = (
        Ticket.objects.filter(customer=OuterRef("pk"), status__in=ACTIVE_STATUSES)
        .order_by()
        .values("customer")
        .annotate(count=Count("pk"))
        .values("count")
    )
    rows = (
        Customer.objects.filter(pk__in=customer_ids)
        .annotate(
            open_tickets=Coalesce(Subquery(open_tickets, output_field=IntegerField()), Value(0)),
            last_contact_at=Subquery(last_contact.values("started_at")[:1]),
            last_contact_channel=Subquery(last_contact.values("channel")[:1]),
        )
        .order_by("pk")
        .values_list(
            "pk", "full_name", "company", "open_tickets", "last_contact_at", "last_contact_channel"
        )[:SCREEN_POP_CANDIDATES]
    )
    return [
        CallerCard(
            customer_id=pk,
            full_name=name,
            company=company,
            open_tickets=tickets,
            last_contact_at=at,
            last_contact_channel=str(Channel(channel).label) if channel else "",
        )
        for pk, name, company, tickets, at, channel in rows
    ]
