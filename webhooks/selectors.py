"""Reads of the webhooks app: the deliveries the sweep must send again."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from webhooks.models import WebhookDelivery

# Deliveries enqueued by one sweep at most; the next sweep takes the rest.
SWEEP_BATCH = 1_000


def due_delivery_ids(*, now: dt.datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Pending or retrying deliveries due for longer than WEBHOOK_SWEEP_AFTER_SECONDS: their
    task never ran (the broker was down when it was enqueued, or lost it). Oldest first; the
    partial index `webhook_delivery_due_idx` answers it."""
    overdue = now - dt.timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS)
    return list(
        WebhookDelivery.objects.filter(
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
            next_attempt_at__lte=overdue,
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
