"""The email channel's reactions to other apps' signals (connected in EmailChannelConfig.ready)."""

from __future__ import annotations

from typing import Any

from anymail.signals import inbound

from core.queue import enqueue_on_commit
from email_channel.inbound import ingest_inbound_event
from email_channel.outbound import queue_ticket_reply
from email_channel.tasks import send_ticket_reply_task
from tickets.models import TicketMessage
from tickets.signals import ticket_message_added


def reply_by_email(sender: Any, *, message: TicketMessage, **kwargs: Any) -> None:
    """An operator's public reply on an email ticket is mailed to the customer after commit."""
    email = queue_ticket_reply(message=message)
    if email is not None and email.status == email.Status.QUEUED:
        # A broker that is down leaves it queued; the "mail" job enqueues it again.
        enqueue_on_commit(send_ticket_reply_task, email_id=email.pk)


def connect() -> None:
    ticket_message_added.connect(reply_by_email, dispatch_uid="email_channel.reply_by_email")
    inbound.connect(ingest_inbound_event, dispatch_uid="email_channel.ingest_inbound_event")
