"""Surveys react to tickets: a resolved ticket asks its customer how it went, and a customer's
message on a ticket gets the sentiment label survey comments get."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from customers.models import Channel
from surveys.sentiment import classify
from tickets.models import Status, TicketMessage

logger = logging.getLogger(__name__)


def on_ticket_status_changed(
    sender: Any, *, ticket_id: int, to_status: str, at: dt.datetime, **kwargs: Any
) -> None:
    """Enqueue the CSAT (and CES) invitation once the resolving transaction has committed.

    The signal is sent after commit already, so the task never sees a ticket that rolls back.
    A broker that is down must not fail the operator's request: the resolution is saved, and
    the outbox sweep creates the invitation the task missed within minutes
    (`surveys.triggers.invite_for_recent_resolutions`).
    """
    if to_status != Status.RESOLVED:
        return
    from core.queue import enqueue
    from surveys.tasks import invite_after_ticket_resolved

    enqueue(invite_after_ticket_resolved, ticket_id=ticket_id)


def classify_customer_message(
    sender: Any, instance: TicketMessage, created: bool = False, raw: bool = False, **kwargs: Any
) -> None:
    """post_save: the customer's own words on a ticket (a chat, a message an integration
    posted, the description a ticket opened with) are labelled by the survey comments'
    classifier, in the writer's transaction; the queue marks a negative one and the sentiment
    metric counts it. Email labels its own messages at ingest (email_channel.services), from
    the new text without the quoted history, so its messages are left to it."""
    if (
        raw
        or not created
        or instance.author_kind != TicketMessage.Author.CUSTOMER
        or instance.sentiment
        or instance.channel == Channel.EMAIL
    ):
        return
    instance.sentiment = classify(instance.body)
    instance.save(update_fields=["sentiment"])
