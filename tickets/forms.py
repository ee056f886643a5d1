"""Forms of the ticket page (reply or note, status move, assignment, priority) and of the
card's "open ticket" action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from customers.forms import CONTACT_CHANNELS, RECENT_CHOICES, limit_choices
from customers.models import Customer, Purchase
from tickets.models import TRANSITIONS, Priority, Status, Ticket
from tickets.services import may_work_tickets

# A message longer than this is almost certainly a paste gone wrong, not a reply.
MAX_MESSAGE_LENGTH = 20_000


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write a message.")},
    )
    is_internal = forms.BooleanField(
        label=_("Internal note (not sent to the customer)"), required=False
    )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError(_("Write a message."))
        return body


class StatusForm(forms.Form):
    to_status = forms.ChoiceField(label=_("Status"), choices=Status.choices)

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticket = ticket

    def clean_to_status(self) -> str:
        to_status = self.cleaned_data["to_status"]
        if to_status not in TRANSITIONS.get(self.ticket.status, frozenset()):
            raise forms.ValidationError(
                _("A ticket cannot go from “%(from)s” to “%(to)s”.")
                % {"from": Status(self.ticket.status).label, "to": Status(to_status).label}
            )
        return str(to_status)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=User.objects.filter(is_active=True, is_staff=True).order_by("username"),
        required=False,
        empty_label=_("Nobody (back to the queue)"),
    )

    def clean_assignee(self) -> User | None:
        assignee: User | None = self.cleaned_data.get("assignee")
        if assignee is not None and not may_work_tickets(assignee):
            raise forms.ValidationError(
                _("Assign the ticket to active staff who may work tickets.")
            )
        return assignee


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)


class OpenTicketForm(forms.Form):
    """The card's "open ticket": what the customer reports, optionally about one purchase."""

    subject = forms.CharField(label=_("Subject"), max_length=255)
    channel = forms.ChoiceField(label=_("Channel"), choices=CONTACT_CHANNELS, initial="phone")
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL
    )
    body = forms.CharField(
        label=_("What the customer said"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    purchase = forms.ModelChoiceField(
        label=_("Purchase (warranty claim)"),
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
