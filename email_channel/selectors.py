"""Reads of the email channel that other parts (jobs, pages) need."""

from __future__ import annotations

import datetime as dt

from email_channel.models import EmailMessage

# A queued reply older than this had its task lost (a broker that was down): enqueue again.
STALE_QUEUED_AFTER = dt.timedelta(minutes=5)


def stale_queued_reply_ids(*, now: dt.datetime) -> list[int]:
    """Outbound replies still queued long after they were recorded."""
    return list(
        EmailMessage.objects.filter(
            direction=EmailMessage.Direction.OUTBOUND,
            status=EmailMessage.Status.QUEUED,
            created_at__lt=now - STALE_QUEUED_AFTER,
        )
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
