"""Model signals that become webhook events: a decoupled reaction, so signals fit here.

Each receiver snapshots what the event says and, once the change is committed, asks (from
the cache) whether any webhook wants it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from customers.models import Customer
from customers.signals import customers_merged as customers_merged_signal
from surveys.models import SurveyResponse
from tickets.models import Ticket, TicketEvent
from webhooks.models import Event, Webhook
from webhooks.services import emit_event, forget_subscriptions, subscribed_events


def _after_commit(event: str, payload: Callable[[], dict[str, Any]]) -> None:
    """Record `event` for the webhooks that want it once the change is committed.

    After commit, not inside the saving transaction: a change that rolls back sends nothing,
    and a CRM without webhooks pays nothing, not even a query, on its saves.
    """

    def emit() -> None:
        if event in subscribed_events():
            emit_event(event=event, payload=payload())

    transaction.on_commit(emit)


def customer_saved(
    sender: Any, instance: Customer, created: bool, raw: bool = False, **_: Any
) -> None:
    if raw:
        return
    event = Event.CUSTOMER_CREATED if created else Event.CUSTOMER_UPDATED
    data = {
        "id": instance.pk,
        "full_name": instance.full_name,
        "external_id": instance.external_id,
        "lifecycle": instance.lifecycle,
        "anonymised": instance.anonymised_at is not None,
        "updated_at": instance.updated_at,
    }
    _after_commit(event, lambda: data)


def customers_merged(
    sender: Any, survivor_id: int, merged_id: int, actor_id: int | None, **_: Any
) -> None:
    data = {"id": survivor_id, "merged_id": merged_id, "actor": actor_id}
    _after_commit(Event.CUSTOMER_MERGED, lambda: data)


def ticket_saved(sender: Any, instance: Ticket, created: bool, raw: bool = False, **_: Any) -> None:
    if raw or not created:
        return
    data = {
        "number": instance.pk,
        "customer": instance.customer_id,
        "subject": instance.subject,
        "channel": instance.channel,
        "status": instance.status,
        "priority": instance.priority,
        "created_at": instance.created_at,
    }
    _after_commit(Event.TICKET_CREATED, lambda: data)


def ticket_event_saved(
    sender: Any, instance: TicketEvent, created: bool, raw: bool = False, **_: Any
) -> None:
    if raw or not created or instance.kind != TicketEvent.Kind.STATUS:
        return
    data = {
        "number": instance.ticket_id,
        "from": instance.from_value,
        "to": instance.to_value,
        "actor": instance.actor_id,
        "at": instance.created_at,
    }
    _after_commit(Event.TICKET_STATUS_CHANGED, lambda: data)


def survey_response_saved(
    sender: Any, instance: SurveyResponse, created: bool, raw: bool = False, **_: Any
) -> None:
    if raw or not created:
        return
    response_id = instance.pk

    def data() -> dict[str, Any]:
        # Read only when someone wants the event: the survey's kind is one join away.
        response = SurveyResponse.objects.select_related("invitation__survey").get(pk=response_id)
        invitation = response.invitation
        return {
            "response": response.pk,
            "invitation": invitation.pk,
            "survey": invitation.survey_id,
            "kind": invitation.survey.kind,
            "customer": invitation.customer_id,
            "ticket": invitation.ticket_id,
            "score": response.score,
            "answered_at": response.answered_at,
        }

    _after_commit(Event.SURVEY_ANSWERED, data)


def webhook_changed(sender: Any, **_: Any) -> None:
    forget_subscriptions()


def connect() -> None:
    """Connect the receivers (from WebhooksConfig.ready)."""
    post_save.connect(customer_saved, sender=Customer, dispatch_uid="webhooks.customer")
    customers_merged_signal.connect(customers_merged, dispatch_uid="webhooks.customers_merged")
    post_save.connect(ticket_saved, sender=Ticket, dispatch_uid="webhooks.ticket")
    post_save.connect(ticket_event_saved, sender=TicketEvent, dispatch_uid="webhooks.ticket_event")
    post_save.connect(
        survey_response_saved, sender=SurveyResponse, dispatch_uid="webhooks.survey_response"
    )
    post_save.connect(webhook_changed, sender=Webhook, dispatch_uid="webhooks.webhook_saved")
    post_delete.connect(webhook_changed, sender=Webhook, dispatch_uid="webhooks.webhook_deleted")
