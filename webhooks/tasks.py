"""Celery tasks of the webhooks: thin, called with ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from webhooks.models import WebhookDelivery
from webhooks.services import attempt_delivery


@shared_task(name="webhooks.deliver")
def deliver_webhook(*, delivery_id: int) -> str:
    """Try a delivery once; on failure schedule the next try after an exponential backoff."""
    try:
        delivery = attempt_delivery(delivery_id=delivery_id)
    except WebhookDelivery.DoesNotExist:
        return "gone"
    if delivery.status == WebhookDelivery.Status.RETRYING and delivery.next_attempt_at:
        deliver_webhook.apply_async(
            kwargs={"delivery_id": delivery_id}, eta=delivery.next_attempt_at
        )
    return str(delivery.status)
