"""Emitting events to webhooks and delivering them, signed, with retries and backoff.

A delivery's body is JSON: {"id", "event", "created_at", "timestamp", "data"}. It is signed
with HMAC-SHA256 of the raw body and the webhook's secret, sent as
`X-CRM-Signature: sha256=<hex>`; `X-CRM-Timestamp` repeats the body's `timestamp` (Unix
seconds of this attempt) so a receiver can refuse old replays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from core.queue import enqueue_on_commit
from webhooks import targets
from webhooks.models import Webhook, WebhookDelivery


class PayloadEncoder(DjangoJSONEncoder):
    """Times in RFC 3339 in UTC ("...Z"), the form the API answers, whatever zone the value
    carries (a time a client sent with +03:00 keeps that zone on the instance)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime) and timezone.is_aware(o):
            o = o.astimezone(dt.UTC)
        return super().default(o)


logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-CRM-Signature"
TIMESTAMP_HEADER = "X-CRM-Timestamp"
EVENT_HEADER = "X-CRM-Event"
DELIVERY_HEADER = "X-CRM-Delivery"
USER_AGENT = "CRM-Webhooks/1"
# Every save of a customer or ticket asks which events anyone wants: cached, not queried.
SUBSCRIBED_CACHE_KEY = "webhooks:subscribed-events"
SUBSCRIBED_CACHE_SECONDS = 300


def sign(*, secret: str, body: bytes) -> str:
    """The signature header value of a body: `sha256=` and the HMAC-SHA256 hex digest."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(*, secret: str, body: bytes, signature: str) -> bool:
    """Whether `signature` is the one `sign` gives for this body (constant-time)."""
    return hmac.compare_digest(sign(secret=secret, body=body), signature)


def subscribed_events() -> frozenset[str]:
    """The events at least one active webhook wants (cached; reset on every webhook change)."""
    cached = cache.get(SUBSCRIBED_CACHE_KEY)
    if cached is not None:
        return frozenset(cached)
    events: set[str] = set()
    for hook_events in Webhook.objects.filter(is_active=True).values_list("events", flat=True):
        events.update(hook_events or [])
    cache.set(SUBSCRIBED_CACHE_KEY, sorted(events), SUBSCRIBED_CACHE_SECONDS)
    return frozenset(events)


def forget_subscriptions() -> None:
    cache.delete(SUBSCRIBED_CACHE_KEY)


def emit_event(
    *, event: str, payload: Mapping[str, Any], at: dt.datetime | None = None
) -> list[WebhookDelivery]:
    """Record a delivery of `event` for every webhook that wants it; send them after commit."""
    if event not in subscribed_events():
        return []
    hooks = [hook for hook in Webhook.objects.filter(is_active=True) if hook.wants(event)]
    if not hooks:
        return []
    now = at or timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                webhook=hook,
                event=event,
                payload=json.loads(json.dumps(payload, cls=PayloadEncoder)),
                created_at=now,
                next_attempt_at=now,
            )
            for hook in hooks
        ]
    )
    from webhooks.tasks import deliver_webhook

    for delivery in deliveries:
        # Fail-soft: with the broker down the delivery stays pending for the `webhooks` sweep,
        # and the change that emitted the event is not answered with an error.
        enqueue_on_commit(deliver_webhook, delivery_id=delivery.pk)
    return deliveries


def send_again(*, delivery_ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """Send deliveries again at once (the admin's "Send again now"): attempts start over.

    They are due now and enqueued after commit, fail-soft like every delivery: with the broker
    down the action still answers, and the `webhooks` sweep sends them once it is back.
    """
    from webhooks.tasks import deliver_webhook

    ids = list(delivery_ids)
    count = WebhookDelivery.objects.filter(pk__in=ids).update(
        status=WebhookDelivery.Status.RETRYING, attempts=0, next_attempt_at=now or timezone.now()
    )
    for delivery_id in ids:
        enqueue_on_commit(deliver_webhook, delivery_id=delivery_id)
    return count


def delivery_body(*, delivery: WebhookDelivery, now: dt.datetime) -> bytes:
    """The exact bytes sent (and signed) for one attempt."""
    document = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at,
        "timestamp": int(now.timestamp()),
        "data": delivery.payload,
    }
    return json.dumps(document, cls=PayloadEncoder, separators=(",", ":")).encode()


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff: base, 2 x base, 4 x base, ... after the 1st, 2nd, 3rd attempt."""
    return dt.timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def attempt_delivery(*, delivery_id: int, now: dt.datetime | None = None) -> WebhookDelivery:
    """POST a delivery once and record the outcome; schedule nothing (the task does).

    Sent outside any transaction: a slow receiver holds no database lock.
    """
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if delivery.status in (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED):
        return delivery
    now = now or timezone.now()
    body = delivery_body(delivery=delivery, now=now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret=delivery.webhook.secret, body=body),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
    }
    # Resolved, checked and connected to the checked address (webhooks/targets.py).
    answer = targets.post(
        url=delivery.webhook.url,
        body=body,
        headers=headers,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    status, error = answer.status, answer.error
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = status
    delivery.response_body = answer.excerpt
    if status is not None and 200 <= status < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.error = ""
        delivery.next_attempt_at = None
    else:
        delivery.error = error or f"HTTP {status}"
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.status = WebhookDelivery.Status.RETRYING
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    delivery.save()
    if delivery.status == WebhookDelivery.Status.FAILED:
        logger.warning("Webhook delivery %s failed for good: %s", delivery.pk, delivery.error)
    return delivery
