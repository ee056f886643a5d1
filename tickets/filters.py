"""The ticket filter set shared by the operator queue and the API.

Names are agreed between the queue and the API: customer, status (several), priority,
channel, assignee, team, created_after, created_before, updated_since, sla, unassigned.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters as filters
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Channel
from tickets.models import ACTIVE_STATUSES, Priority, SLAPolicy, Status, Ticket
from tickets.sla import AT_RISK_SHARE, SLAState, ticket_sla


class TicketFilter(filters.FilterSet):
    customer = filters.NumberFilter(field_name="customer_id")
    status = filters.MultipleChoiceFilter(choices=Status.choices)
    priority = filters.ChoiceFilter(choices=Priority.choices)
    channel = filters.ChoiceFilter(choices=Channel.choices)
    assignee = filters.NumberFilter(field_name="assignee_id")
    team = filters.NumberFilter(field_name="team_id")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    sla = filters.ChoiceFilter(
        choices=[("at_risk", _("At risk")), ("breached", _("Breached"))], method="filter_sla"
    )
    unassigned = filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_sla(self, queryset: QuerySet[Ticket], name: str, value: Any) -> QuerySet[Ticket]:
        now = timezone.now()
        active = queryset.filter(status__in=ACTIVE_STATUSES)
        breached = Q(resolution_due_at__lt=now) | Q(
            first_response_at__isnull=True, first_response_due_at__lt=now
        )
        if value == "breached":
            return active.filter(breached)
        # At risk: less than AT_RISK_SHARE of a clock's target left. No target is longer than
        # the longest policy, so only tickets due within that share of it can be at risk; the
        # exact test is the SLA module's, over that short list.
        longest = SLAPolicy.objects.aggregate(longest=Max("resolution_minutes"))["longest"]
        if not longest:
            return queryset.none()
        horizon = now + dt.timedelta(minutes=longest * AT_RISK_SHARE)
        candidates = active.exclude(breached).filter(
            Q(resolution_due_at__lt=horizon)
            | Q(first_response_at__isnull=True, first_response_due_at__lt=horizon)
        )
        at_risk = [
            ticket.pk
            for ticket in candidates.only(
                "created_at",
                "first_response_due_at",
                "resolution_due_at",
                "first_response_at",
                "resolved_at",
            )
            if ticket_sla(ticket, now=now).state == SLAState.AT_RISK
        ]
        return queryset.filter(pk__in=at_risk)
