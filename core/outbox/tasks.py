"""The outbox's Celery tasks: one message now, a batch of due ones, and the sweep that feeds them.

None of them relies on Celery to retry: the attempt count and the next attempt time live on the
row, and the sweep hands out whatever is due. A task lost with its worker (or delivered twice by
the broker) is therefore harmless: the claim decides who sends.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from core.outbox import engine
from core.queue import enqueue

# Per-message task: longer than a provider's timeout, shorter than the claim lease, so that a
# hung send is killed before the sweep could hand its message to another worker.
MESSAGE_SOFT_LIMIT = max(settings.OUTBOX_CLAIM_LEASE_SECONDS - 10, 3)
MESSAGE_HARD_LIMIT = max(settings.OUTBOX_CLAIM_LEASE_SECONDS - 5, MESSAGE_SOFT_LIMIT + 1)


@shared_task(
    name="outbox.deliver",
    acks_late=True,
    soft_time_limit=MESSAGE_SOFT_LIMIT,
    time_limit=MESSAGE_HARD_LIMIT,
)
def deliver_task(kind: str, pk: int) -> str:
    """Send one message now (enqueued after the commit that created it)."""
    return engine.deliver(kind, pk).status


@shared_task(
    name="outbox.deliver_due",
    acks_late=True,
    soft_time_limit=settings.OUTBOX_BATCH_TIME_LIMIT_SECONDS,
    time_limit=settings.OUTBOX_BATCH_TIME_LIMIT_SECONDS + 15,
)
def deliver_due_task(kind: str) -> dict[str, int]:
    """Claim a batch of due messages of `kind` and send them one after another."""
    claim = engine.claim_due(kind, limit=settings.OUTBOX_BATCH_SIZE)
    counts: dict[str, int] = {}
    try:
        for outcome in engine.deliver_claimed(claim):
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
    except SoftTimeLimitExceeded:
        # The rows not reached yet go back at once rather than after the lease.
        counts["released"] = engine.release(claim)
    return counts


def kick(kind: str, *, now: dt.datetime | None = None) -> int:
    """Enqueue as many batch tasks as the due rows of `kind` need; return how many went."""
    batches = engine.batches_due(kind, now=now or timezone.now())
    return sum(enqueue(deliver_due_task, kind=kind) for _ in range(batches))


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Every kind: recover a dead worker's claims, create lost rows, enqueue what is due."""
    moment = now or timezone.now()
    totals = {"recovered": 0, "created": 0, "batches": 0, "enqueued": 0}
    for kind in engine.kinds():
        result = engine.sweep_kind(kind, now=moment)
        for key in ("recovered", "created", "batches"):
            totals[key] += result[key]
        totals["enqueued"] += sum(
            enqueue(deliver_due_task, kind=kind) for _ in range(result["batches"])
        )
    return totals
