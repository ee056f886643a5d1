"""The email channel's reactions to other apps' signals (connected in EmailChannelConfig.ready)."""

from __future__ import annotations

from typing import Any

from anymail.signals import inbound

from core.outbox.tasks import deliver_task
from core.queue import enqueue_on_commit
from email_channel.inbound import ingest_inbound_event
from email_channel.outbound import KIND, queue_ticket_reply
from tickets.models import TicketMessage
from tickets.signals import ticket_message_added


def reply_by_email(sender: Any, *, message: TicketMessage, **kwargs: Any) -> None:
    """An operator's public reply on an email ticket is mailed to the customer after commit."""
    email = queue_ticket_reply(message=message)
    if email is not None and email.is_open:
        # A broker that is down leaves it pending; the outbox's sweep hands it out later.
        enqueue_on_commit(deliver_task, kind=KIND, pk=email.pk)


def connect() -> None:
    ticket_message_added.connect(reply_by_email, dispatch_uid="email_channel.reply_by_email")
    inbound.connect(ingest_inbound_event, dispatch_uid="email_channel.ingest_inbound_event")
