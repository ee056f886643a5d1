"""The one filterset for tickets: the operator queue, the API list and anything else that lists.

"At risk" and "breached" are SQL here, read from the moments `tickets.sla.due_times` stored on
the ticket when its SLA was applied; `tickets.sla.ticket_sla` reads the same moments to display
a ticket's state, so a ticket the queue lists as at risk shows as at risk.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import django_filters
from django import forms
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from customers.models import Channel
from tickets.models import ACTIVE_STATUSES, Priority, Status, Ticket

# "#123" or "123": how a ticket number is quoted; 18 digits fit a 64-bit key.
TICKET_NUMBER = re.compile(r"^#?(\d{1,18})$")

# Most urgent first when sorting by priority.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


ANY = _("Any")


class AnyYesNo(forms.NullBooleanSelect):
    """A yes/no filter whose empty choice reads "Any" (the same values as Django's widget)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", ANY), ("true", _("Yes")), ("false", _("No"))]


class SLAFilterChoice:
    AT_RISK = "at_risk"
    BREACHED = "breached"
    CHOICES = ((AT_RISK, _("At risk")), (BREACHED, _("Breached")))


def breached_q(now: dt.datetime) -> Q:
    """Tickets with a clock past its due time: still running, or stopped too late."""
    first = Q(first_response_due_at__isnull=False) & (
        Q(first_response_at__isnull=True, first_response_due_at__lt=now)
        | Q(first_response_at__gt=F("first_response_due_at"))
    )
    resolution = Q(resolution_due_at__isnull=False) & (
        Q(resolved_at__isnull=True, resolution_due_at__lt=now)
        | Q(resolved_at__gt=F("resolution_due_at"))
    )
    return first | resolution


def at_risk_q(now: dt.datetime) -> Q:
    """Tickets with a running clock past its at-risk moment and none breached."""
    first = Q(
        first_response_at__isnull=True,
        first_response_at_risk_at__lte=now,
    )
    resolution = Q(resolved_at__isnull=True, resolution_at_risk_at__lte=now)
    return (first | resolution) & ~breached_q(now)


SORTS: dict[str, tuple[Any, ...]] = {
    "-created": (F("created_at").desc(), F("id").desc()),
    "created": (F("created_at").asc(), F("id").asc()),
    "-updated": (F("updated_at").desc(), F("id").desc()),
    "priority": (F("priority_rank").asc(), F("created_at").asc(), F("id").asc()),
    "sla_due": (F("resolution_due_at").asc(nulls_last=True), F("id").asc()),
}
SORT_CHOICES = (
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("-updated", _("Recently updated")),
    ("priority", _("Most urgent first")),
    ("sla_due", _("SLA due soonest")),
)
DEFAULT_SORT = "-created"


class TicketFilter(django_filters.FilterSet):
    """Filters for a ticket list. Pass `request` (for `mine`) and optionally `now` (for SLA)."""

    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer"))
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, label=_("Status"), widget=forms.CheckboxSelectMultiple
    )
    priority = django_filters.ChoiceFilter(
        choices=Priority.choices, label=_("Priority"), empty_label=ANY
    )
    channel = django_filters.ChoiceFilter(
        choices=Channel.choices, label=_("Channel"), empty_label=ANY
    )
    assignee = django_filters.ModelChoiceFilter(queryset=User.objects.all(), label=_("Assignee"))
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), label=_("Team"), empty_label=ANY
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Created after")
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label=_("Created before")
    )
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Updated since")
    )
    sla = django_filters.ChoiceFilter(
        choices=SLAFilterChoice.CHOICES, method="filter_sla", label=_("SLA"), empty_label=ANY
    )
    unassigned = django_filters.BooleanFilter(
        field_name="assignee", lookup_expr="isnull", label=_("Unassigned"), widget=AnyYesNo
    )
    mine = django_filters.BooleanFilter(method="filter_mine", label=_("Mine"), widget=AnyYesNo)
    active = django_filters.BooleanFilter(
        method="filter_active", label=_("Active only"), widget=AnyYesNo
    )
    q = django_filters.CharFilter(method="filter_search", label=_("Subject, customer or number"))
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_sort", label=_("Sort"), empty_label=None
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args: Any, now: dt.datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()

    def filter_sla(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value == SLAFilterChoice.BREACHED:
            return queryset.filter(breached_q(self.now))
        if value == SLAFilterChoice.AT_RISK:
            return queryset.filter(at_risk_q(self.now))
        return queryset

    def filter_mine(self, queryset: QuerySet[Ticket], name: str, value: bool) -> QuerySet[Ticket]:
        user = getattr(self.request, "user", None)
        if value is None:
            return queryset
        if user is None or not user.is_authenticated:
            return queryset.none() if value else queryset
        return queryset.filter(assignee=user) if value else queryset.exclude(assignee=user)

    def filter_active(self, queryset: QuerySet[Ticket], name: str, value: bool) -> QuerySet[Ticket]:
        if value is None:
            return queryset
        if value:
            return queryset.filter(status__in=ACTIVE_STATUSES)
        return queryset.exclude(status__in=ACTIVE_STATUSES)

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = value.strip()
        if not value:
            return queryset
        match = TICKET_NUMBER.match(value)
        if match:
            return queryset.filter(Q(pk=int(match.group(1))) | Q(subject__uicontains=value))
        # Every word in the subject or the customer's name, in any case of any alphabet.
        condition = Q()
        for word in value.split():
            condition &= Q(subject__uicontains=word) | Q(customer__full_name__uicontains=word)
        return queryset.filter(condition)

    def filter_sort(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return queryset  # applied in `qs`, so that the default order holds without the field

    @property
    def qs(self) -> QuerySet[Ticket]:
        queryset = super().qs
        sort = DEFAULT_SORT
        if self.is_bound and self.is_valid():
            sort = self.form.cleaned_data.get("sort") or DEFAULT_SORT
        if sort == "priority":
            queryset = queryset.annotate(
                priority_rank=Case(
                    *(When(priority=key, then=Value(rank)) for key, rank in PRIORITY_RANK.items()),
                    output_field=IntegerField(),
                )
            )
        return queryset.order_by(*SORTS[sort])
