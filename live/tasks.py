"""Celery tasks of the live app: thin wrappers that take ids and call the service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from live.email import EmailOutcome, email_notification

# A mail server down for longer than the sum of these back-offs (about an hour) loses the
# email; the notification itself stays in the operator's list.
EMAIL_RETRIES = 6
EMAIL_RETRY_BASE_SECONDS = 60


@shared_task(name="live.email_notification", bind=True, acks_late=True, max_retries=EMAIL_RETRIES)
def email_notification_task(self: Any, notification_id: int) -> str:
    """Email one notification (once: a second run finds it claimed); retry a failed send."""
    outcome = email_notification(notification_id=notification_id)
    # Inline (eager) runs do not retry: a Retry raised there would reach the request.
    if outcome == EmailOutcome.FAILED and not self.request.is_eager:
        raise self.retry(countdown=EMAIL_RETRY_BASE_SECONDS * 2**self.request.retries)
    return str(outcome)
