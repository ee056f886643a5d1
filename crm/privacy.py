"""A customer's personal data across every app: export (right of access) and erasure.

Erasure anonymises rather than deletes: purchases keep their amounts and dates, tickets their
timestamps, surveys their scores, so the aggregates (CLV, resolution times, CSAT) stay
correct while nothing left identifies the person.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from accounts.models import User
from customers.models import (
    ContactPoint,
    Customer,
    DataExportRecord,
    Interaction,
    Interest,
    Offer,
    Purchase,
    Reminder,
)
from surveys.models import SurveyInvitation, SurveyResponse
from tickets.models import Ticket, TicketMessage

logger = logging.getLogger(__name__)

# What replaces a free text the customer wrote; not empty, so that "has a comment" and the
# comment's sentiment still count in the aggregates.
ERASED_TEXT = "[erased]"
ERASED_NAME = "Anonymised customer {id}"
ERASURE_LOG_MESSAGE = "Personal data erased (right to erasure)."
EXPORT_FORMAT_VERSION = 1


def _rows(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    return list(queryset.order_by("pk").values())


def export_customer(*, customer: Customer) -> dict[str, Any]:
    """Everything the CRM holds about one customer, as JSON-ready dictionaries."""
    identity: dict[str, Any] = dict(Customer.objects.filter(pk=customer.pk).values().get())
    identity["tags"] = list(customer.tags.order_by("name").values_list("name", flat=True))
    tickets = Ticket.objects.filter(customer=customer)
    invitations = SurveyInvitation.objects.filter(customer=customer)
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": timezone.now(),
        "customer": identity,
        "contact_points": _rows(ContactPoint.objects.filter(customer=customer)),
        "purchases": _rows(Purchase.objects.filter(customer=customer)),
        "interests": _rows(Interest.objects.filter(customer=customer)),
        "interactions": _rows(Interaction.objects.filter(customer=customer)),
        "offers": _rows(Offer.objects.filter(customer=customer)),
        "reminders": _rows(Reminder.objects.filter(customer=customer)),
        "tickets": _rows(tickets),
        "ticket_messages": _rows(
            TicketMessage.objects.filter(ticket__customer=customer).exclude(is_internal=True)
        ),
        "survey_invitations": [
            {key: value for key, value in row.items() if key != "token"}
            for row in _rows(invitations)
        ],
        "survey_responses": _rows(SurveyResponse.objects.filter(invitation__customer=customer)),
    }


@transaction.atomic
def export_customer_data(*, customer: Customer, actor: User, path: str) -> dict[str, Any]:
    """The customer's export for `actor`, recorded (who, when, which customer, which path).

    Every exporter (API, admin, card) calls this, never `export_customer` directly.
    """
    DataExportRecord.objects.create(
        customer=customer, customer_number=customer.pk, actor=actor, path=path
    )
    logger.info("Customer %s exported by user %s through %s", customer.pk, actor.pk, path)
    return export_customer(customer=customer)


@transaction.atomic
def erase_customer(*, customer: Customer, actor: User, at: Any = None) -> Customer:
    """Anonymise a customer and the texts they wrote; a second call changes nothing.

    Keeps the rows aggregates read; logs the erasure with the acting user.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.anonymised_at is not None:
        return customer
    now = at or timezone.now()
    ContactPoint.objects.filter(customer=customer).delete()
    customer.tags.clear()
    customer.full_name = ERASED_NAME.format(id=customer.pk)
    customer.company = ""
    customer.notes = ""
    customer.external_id = ""
    customer.acquisition_campaign = ""
    customer.time_zone = ""
    customer.anonymised_at = now
    customer.save()
    # The texts blanked below feed no metric (a comment stays non-empty, its sentiment
    # stays), so the metrics' daily rollups of these rows remain right: no invalidation.
    Interaction.objects.filter(customer=customer).update(
        contact_address="", summary="", updated_at=now
    )
    Interest.objects.filter(customer=customer).exclude(description="").update(
        description=ERASED_TEXT, updated_at=now
    )
    TicketMessage.objects.filter(
        ticket__customer=customer, author_kind=TicketMessage.Author.CUSTOMER
    ).update(body=ERASED_TEXT)
    SurveyResponse.objects.filter(invitation__customer=customer).exclude(comment="").update(
        comment=ERASED_TEXT
    )
    _log(actor=actor, obj=customer, message=ERASURE_LOG_MESSAGE)
    logger.info("Customer %s erased by user %s", customer.pk, actor.pk)
    return customer


def _log(*, actor: User, obj: Model, message: str) -> None:
    LogEntry.objects.create(
        user=actor,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=CHANGE,
        change_message=message,
    )
