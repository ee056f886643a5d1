"""The email channel's reactions to other apps' signals (connected in EmailChannelConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from email_channel.outbound import queue_ticket_reply
from email_channel.tasks import send_ticket_reply_task
from tickets.models import TicketMessage
from tickets.signals import ticket_message_added


def reply_by_email(sender: Any, *, message: TicketMessage, **kwargs: Any) -> None:
    """An operator's public reply on an email ticket is mailed to the customer after commit."""
    email = queue_ticket_reply(message=message)
    if email is not None and email.status == email.Status.QUEUED:
        email_id = email.pk
        transaction.on_commit(lambda: send_ticket_reply_task.delay(email_id=email_id))


def connect() -> None:
    ticket_message_added.connect(reply_by_email, dispatch_uid="email_channel.reply_by_email")
