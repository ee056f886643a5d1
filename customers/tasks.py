"""Celery tasks of the customers app: thin wrappers that take ids and call the service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from customers.delivery.policy import Outcome
from customers.delivery.service import deliver_reminder


@shared_task(name="customers.deliver_reminder", bind=True, acks_late=True, max_retries=None)
def deliver_reminder_task(self: Any, reminder_id: int) -> str:
    """Send one reminder; on a temporary failure schedule the next attempt with back-off.

    The attempt count and the final failed state live on the row, so Celery's own retry
    counter is only the alarm clock (max_retries=None); a duplicate message is harmless.
    """
    outcome = deliver_reminder(reminder_id=reminder_id)
    # Inline (eager) runs leave the retry to the deliveries sweep: a Retry raised there would
    # surface in the caller, e.g. the web request that created the row.
    if (
        outcome.status == Outcome.RETRY
        and outcome.retry_at is not None
        and not self.request.is_eager
    ):
        countdown = max((outcome.retry_at - timezone.now()).total_seconds(), 0)
        raise self.retry(countdown=countdown)
    return outcome.status
