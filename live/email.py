"""A notification's email: sent by at most one task, however often the task runs."""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from live.models import Notification

logger = logging.getLogger(__name__)

# The sweep re-enqueues emails that no task has claimed this long after the notification
# (the broker was down when it was made, or a retry gave up) ...
UNSENT_GRACE = dt.timedelta(minutes=5)
# ... up to this old: a day-old "SLA at risk" email is noise, the page still lists it.
UNSENT_LOOKBACK = dt.timedelta(hours=24)


class EmailOutcome(StrEnum):
    SENT = "sent"
    ALREADY_CLAIMED = "already_claimed"  # sent (or being sent) by another run of the task
    NO_ADDRESS = "no_address"
    FAILED = "failed"  # the mail server refused or was unreachable: the claim is released


def email_notification(*, notification_id: int) -> EmailOutcome:
    """Send the notification's email unless a run of the task already claimed it.

    The claim is one UPDATE of `emailed_at` from NULL, so of two runs at the same moment
    exactly one sends; a failed send clears the claim for the next attempt.
    """
    claimed_at = timezone.now()
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=claimed_at
    )
    if not claimed:
        return EmailOutcome.ALREADY_CLAIMED
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    recipient = notification.recipient
    if not recipient.email or not recipient.is_active:
        return EmailOutcome.NO_ADDRESS
    try:
        send_mail(
            subject=notification.text,
            message=notification.text
            + (f"\n\n{settings.SITE_URL}{notification.url}" if notification.url else ""),
            from_email=None,
            recipient_list=[recipient.email],
        )
    except OSError:  # smtplib's errors and socket timeouts alike
        logger.exception("notification %s: email failed, released for a retry", notification_id)
        Notification.objects.filter(pk=notification_id, emailed_at=claimed_at).update(
            emailed_at=None
        )
        return EmailOutcome.FAILED
    return EmailOutcome.SENT


def unsent_notification_ids(*, now: dt.datetime) -> list[int]:
    """Notifications whose email no task has claimed (the deliveries sweep enqueues them)."""
    return list(
        Notification.objects.filter(
            emailed_at__isnull=True,
            created_at__lte=now - UNSENT_GRACE,
            created_at__gt=now - UNSENT_LOOKBACK,
            recipient__is_active=True,
        )
        .exclude(recipient__email="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
