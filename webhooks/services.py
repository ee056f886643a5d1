"""Emitting events to webhooks and delivering them, signed, through the outbox (core/outbox).

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

from core.outbox.errors import TemporaryDeliveryError
from core.outbox.registry import OutboxKind
from core.outbox.tasks import deliver_task
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
IDEMPOTENCY_HEADER = "Idempotency-Key"
KIND = "webhook"
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
    for delivery in deliveries:
        # Fail-soft: with the broker down the delivery stays pending for the outbox sweep,
        # and the change that emitted the event is not answered with an error.
        enqueue_on_commit(deliver_task, kind=KIND, pk=delivery.pk)
    return deliveries


def send_again(*, delivery_ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """Send deliveries again at once (the admin's "Send again now"): attempts start over.

    They are due now and enqueued after commit, fail-soft like every delivery: with the broker
    down the action still answers, and the outbox sweep sends them once it is back. A delivery
    being sent at this moment is left to its worker.
    """
    ids = list(delivery_ids)
    Status = WebhookDelivery.DeliveryStatus
    count = (
        WebhookDelivery.objects.filter(pk__in=ids)
        .exclude(delivery_status=Status.SENDING)
        .update(
            delivery_status=Status.PENDING,
            attempts=0,
            next_attempt_at=now or timezone.now(),
            claimed_at=None,
            claim_token=None,
        )
    )
    for delivery_id in ids:
        enqueue_on_commit(deliver_task, kind=KIND, pk=delivery_id)
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


def post_delivery(
    delivery: WebhookDelivery, payload: object, now: dt.datetime
) -> dict[str, object]:
    """POST a delivery once (the outbox's send function for the `webhook` kind).

    Sent outside any transaction: a slow receiver holds no database lock. Every answer but a
    2xx is worth another attempt (a receiver being deployed answers 404 or 502 for a minute).
    `X-CRM-Delivery` and `Idempotency-Key` are the same on every attempt, so a receiver can
    drop a repeat.
    """
    body = delivery_body(delivery=delivery, now=now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret=delivery.webhook.secret, body=body),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        IDEMPOTENCY_HEADER: str(delivery.idempotency_key),
    }
    # Resolved, checked and connected to the checked address (webhooks/targets.py).
    answer = targets.post(
        url=delivery.webhook.url,
        body=body,
        headers=headers,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    record: dict[str, object] = {
        "last_attempt_at": now,
        "response_status": answer.status,
        "response_body": answer.excerpt,
    }
    if answer.status is not None and 200 <= answer.status < 300:
        return record
    raise TemporaryDeliveryError(answer.error or f"HTTP {answer.status}", record=record)


WEBHOOKS = OutboxKind(
    name=KIND,
    model=WebhookDelivery,
    send=post_delivery,
    select_related=("webhook",),
)
