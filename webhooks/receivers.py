"""Model signals that become webhook events: a decoupled reaction, so signals fit here.

Each receiver first asks (from the cache) whether anyone wants the event, and builds the
payload only then, so a CRM without webhooks pays nothing on its saves.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from customers.models import Customer
from surveys.models import SurveyResponse
from tickets.models import Ticket, TicketEvent
from webhooks.models import Event, Webhook
from webhooks.services import emit_event, forget_subscriptions, subscribed_events


def _wanted(event: str) -> bool:
    return event in subscribed_events()


def customer_saved(
    sender: Any, instance: Customer, created: bool, raw: bool = False, **_: Any
) -> None:
    if raw:
        return
    event = Event.CUSTOMER_CREATED if created else Event.CUSTOMER_UPDATED
    if not _wanted(event):
        return
    emit_event(
        event=event,
        payload={
            "id": instance.pk,
            "full_name": instance.full_name,
            "external_id": instance.external_id,
            "lifecycle": instance.lifecycle,
            "anonymised": instance.anonymised_at is not None,
            "updated_at": instance.updated_at,
        },
    )


def ticket_saved(sender: Any, instance: Ticket, created: bool, raw: bool = False, **_: Any) -> None:
    if raw or not created or not _wanted(Event.TICKET_CREATED):
        return
    emit_event(
        event=Event.TICKET_CREATED,
        payload={
            "number": instance.pk,
            "customer": instance.customer_id,
            "subject": instance.subject,
            "channel": instance.channel,
            "status": instance.status,
            "priority": instance.priority,
            "created_at": instance.created_at,
        },
    )


def ticket_event_saved(
    sender: Any, instance: TicketEvent, created: bool, raw: bool = False, **_: Any
) -> None:
    if raw or not created or instance.kind != TicketEvent.Kind.STATUS:
        return
    if not _wanted(Event.TICKET_STATUS_CHANGED):
        return
    emit_event(
        event=Event.TICKET_STATUS_CHANGED,
        payload={
            "number": instance.ticket_id,
            "from": instance.from_value,
            "to": instance.to_value,
            "actor": instance.actor_id,
            "at": instance.created_at,
        },
    )


def survey_response_saved(
    sender: Any, instance: SurveyResponse, created: bool, raw: bool = False, **_: Any
) -> None:
    if raw or not created or not _wanted(Event.SURVEY_ANSWERED):
        return
    invitation = instance.invitation
    emit_event(
        event=Event.SURVEY_ANSWERED,
        payload={
            "response": instance.pk,
            "invitation": invitation.pk,
            "survey": invitation.survey_id,
            "kind": invitation.survey.kind,
            "customer": invitation.customer_id,
            "ticket": invitation.ticket_id,
            "score": instance.score,
            "answered_at": instance.answered_at,
        },
    )


def webhook_changed(sender: Any, **_: Any) -> None:
    forget_subscriptions()


def connect() -> None:
    """Connect the receivers (from WebhooksConfig.ready)."""
    post_save.connect(customer_saved, sender=Customer, dispatch_uid="webhooks.customer")
    post_save.connect(ticket_saved, sender=Ticket, dispatch_uid="webhooks.ticket")
    post_save.connect(ticket_event_saved, sender=TicketEvent, dispatch_uid="webhooks.ticket_event")
    post_save.connect(
        survey_response_saved, sender=SurveyResponse, dispatch_uid="webhooks.survey_response"
    )
    post_save.connect(webhook_changed, sender=Webhook, dispatch_uid="webhooks.webhook_saved")
    post_delete.connect(webhook_changed, sender=Webhook, dispatch_uid="webhooks.webhook_deleted")
