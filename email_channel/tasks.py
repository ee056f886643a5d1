"""Celery tasks of the email channel: thin wrappers that take ids and call the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from core.outbox.policy import retry_delay
from email_channel.models import EmailMessage
from email_channel.outbound import send_ticket_reply


@shared_task(name="email_channel.send_ticket_reply", bind=True, acks_late=True, max_retries=None)
def send_ticket_reply_task(self: Any, email_id: int) -> str:
    """Send one queued reply; on a temporary failure try again later with back-off.

    The attempt count and the final state live on the row (`send_ticket_reply` stops after
    MAX_SEND_ATTEMPTS), so Celery's retry is only the alarm clock.
    """
    outcome = send_ticket_reply(email_id)
    if outcome.retry and not self.request.is_eager:
        attempts = EmailMessage.objects.filter(pk=email_id).values_list("attempts", flat=True)
        raise self.retry(countdown=retry_delay(next(iter(attempts), 1)).total_seconds())
    return outcome.status
