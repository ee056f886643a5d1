"""The one claim / send / record loop of everything the product sends.

claim   a short transaction moves due rows pending -> sending under a fresh claim token
        (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so two workers take disjoint rows;
        on SQLite the write lock serialises the claims and the token says whose rows are whose)
start   before each send one UPDATE, guarded by the token, renews the lease and counts the
        attempt; a row whose claim the sweep took back is left to whoever holds it now
send    with no transaction open, under the row's idempotency key
record  sent (and the kind's `on_sent`, once), or back to pending after a back-off, or, after
        the last attempt, on the kind's fallback route or failed for good
sweep   claims older than the lease go back to pending; due rows are handed to workers
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.outbox.errors import PermanentDeliveryError, TemporaryDeliveryError
from core.outbox.models import DeliveryStatus
from core.outbox.policy import DUE_TOLERANCE, error_text, lease_expired_before, retry_delay
from core.outbox.registry import KINDS, Defer, Hold, OutboxKind, Send, get_kind

logger = logging.getLogger(__name__)

PENDING, SENDING, SENT = DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt did; `retry_at` is set when a later attempt is due."""

    SENT = "sent"
    RETRY = "retry"
    FALLBACK = "fallback"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    DEFERRED = "deferred"
    NOT_CLAIMED = "not_claimed"

    status: str
    retry_at: dt.datetime | None = None
    detail: str = ""


@dataclass(frozen=True)
class Claim:
    """Rows one worker holds: their ids and the token that proves it."""

    kind: str
    token: uuid.UUID
    ids: tuple[int, ...]
    claimed_at: dt.datetime


def _stamp(kind: OutboxKind, now: dt.datetime) -> dict[str, object]:
    """`updated_at` for models that keep one (a queryset update skips auto_now)."""
    fields = {f.name for f in kind.model._meta.concrete_fields}
    return {"updated_at": now} if "updated_at" in fields else {}


def _due(rows: QuerySet[Any], now: dt.datetime) -> QuerySet[Any]:
    return rows.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_TOLERANCE)
    )


def due_rows(kind_name: str, *, now: dt.datetime) -> QuerySet[Any]:
    """Pending rows of a kind whose next attempt time has come (and that the kind calls due)."""
    kind = get_kind(kind_name)
    return kind.due(_due(kind.pending(), now), now)


def claim_due(kind_name: str, *, limit: int, now: dt.datetime | None = None) -> Claim:
    """Claim up to `limit` due rows of a kind for this worker, oldest first."""
    kind = get_kind(kind_name)
    moment = now or timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        candidates = list(
            due_rows(kind_name, now=moment)
            .order_by(F("next_attempt_at").asc(nulls_first=True), "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if candidates:
            kind.rows().filter(pk__in=candidates, delivery_status=PENDING).update(
                delivery_status=SENDING,
                claimed_at=moment,
                claim_token=token,
                **_stamp(kind, moment),
            )
    # The rows this token holds, not the candidates: on SQLite another worker may have claimed
    # some of them between our read and our write.
    ids = tuple(
        kind.rows().filter(claim_token=token).order_by("pk").values_list("pk", flat=True)
        if candidates
        else ()
    )
    return Claim(kind=kind_name, token=token, ids=ids, claimed_at=moment)


def _claim_one(kind: OutboxKind, pk: int, now: dt.datetime) -> uuid.UUID | Outcome:
    token = uuid.uuid4()
    # One conditional UPDATE: a second worker on the same row waits for the first's short
    # transaction and then finds it no longer pending.
    claimed = _due(kind.rows().filter(pk=pk, delivery_status=PENDING), now).update(
        delivery_status=SENDING, claimed_at=now, claim_token=token, **_stamp(kind, now)
    )
    if claimed:
        return token
    waiting = kind.pending().filter(pk=pk, next_attempt_at__isnull=False).first()
    if waiting is not None:
        return Outcome(Outcome.DEFERRED, retry_at=waiting.next_attempt_at)
    return Outcome(Outcome.NOT_CLAIMED)


def deliver(kind_name: str, pk: int, *, now: dt.datetime | None = None) -> Outcome:
    """Claim, send and record one message; safe to call any number of times, anywhere."""
    kind = get_kind(kind_name)
    started = now or timezone.now()
    claimed = _claim_one(kind, pk, started)
    if isinstance(claimed, Outcome):
        return claimed
    return attempt(kind, pk, token=claimed, now=now)


def deliver_claimed(claim: Claim, *, now: dt.datetime | None = None) -> Iterator[Outcome]:
    """Send the rows of a claim one after another, yielding each outcome."""
    kind = get_kind(claim.kind)
    for pk in claim.ids:
        yield attempt(kind, pk, token=claim.token, now=now)


def release(claim: Claim, *, now: dt.datetime | None = None) -> int:
    """Give back the rows of a claim not attempted yet (a worker stopping early)."""
    kind = get_kind(claim.kind)
    moment = now or timezone.now()
    return (
        kind.rows()
        .filter(claim_token=claim.token, delivery_status=SENDING, claimed_at=claim.claimed_at)
        .update(
            delivery_status=PENDING,
            claimed_at=None,
            claim_token=None,
            next_attempt_at=moment,
            **_stamp(kind, moment),
        )
    )


def attempt(
    kind: OutboxKind, pk: int, *, token: uuid.UUID, now: dt.datetime | None = None
) -> Outcome:
    """One attempt at a row this worker claimed under `token`."""
    started = now or timezone.now()
    held = kind.rows().filter(pk=pk, claim_token=token, delivery_status=SENDING)
    row = (held.select_related(*kind.select_related) if kind.select_related else held).first()
    if row is None:
        return Outcome(Outcome.NOT_CLAIMED)
    decision = kind.prepare(row, started)
    if isinstance(decision, Hold):
        _close(kind, held, decision.status, decision.reason, started)
        return Outcome(decision.status, detail=decision.reason)
    if isinstance(decision, Defer):
        held.update(
            delivery_status=PENDING,
            next_attempt_at=decision.until,
            claimed_at=None,
            claim_token=None,
            **_stamp(kind, started),
        )
        return Outcome(Outcome.DEFERRED, retry_at=decision.until)
    assert isinstance(decision, Send)
    if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        # Recovered after its last attempt died with the worker: the policy is spent.
        reason = row.last_error or _("Gave up after the last attempt.")
        return _give_up(kind, row, held, reason, {}, started)
    # The lease starts again for this send, and the attempt counts before it is made.
    started_attempt = held.update(
        claimed_at=started, attempts=F("attempts") + 1, **decision.fields, **_stamp(kind, started)
    )
    if not started_attempt:
        return Outcome(Outcome.NOT_CLAIMED)
    row.attempts += 1
    for name, value in decision.fields.items():
        setattr(row, name, value)
    try:
        record = kind.send(row, decision.payload, started) or {}
    except PermanentDeliveryError as exc:
        return _record_failure(kind, row, held, exc, now=now, final=True)
    except TemporaryDeliveryError as exc:
        return _record_failure(kind, row, held, exc, now=now, final=False)
    except Exception as exc:
        logger.exception("%s %s: unexpected delivery error", kind.name, pk)
        return _record_failure(kind, row, held, exc, now=now, final=False)
    _record_sent(kind, row, decision.payload, record, now=now or timezone.now())
    return Outcome(Outcome.SENT)


def _close(
    kind: OutboxKind,
    held: QuerySet[Any],
    status: str,
    reason: str,
    now: dt.datetime,
    **record: object,
) -> int:
    return held.update(
        delivery_status=status,
        **record,
        last_error=reason,
        next_attempt_at=None,
        claimed_at=None,
        claim_token=None,
        **_stamp(kind, now),
    )


@transaction.atomic
def _record_sent(
    kind: OutboxKind, row: Any, payload: Any, record: Mapping[str, object], *, now: dt.datetime
) -> None:
    # A slow worker whose claim the sweep already took back still records its success (the
    # row is pending, or sending under another token): the next sender would only repeat it
    # under the same key. Whichever records first writes the timeline; the other finds it sent.
    updated = (
        kind.rows()
        .filter(pk=row.pk, delivery_status__in=[SENDING, PENDING])
        .update(
            delivery_status=SENT,
            sent_at=now,
            last_error="",
            next_attempt_at=None,
            claimed_at=None,
            claim_token=None,
            **record,
            **_stamp(kind, now),
        )
    )
    if updated:
        kind.on_sent(row, payload, now)


@transaction.atomic
def _record_failure(
    kind: OutboxKind,
    row: Any,
    held: QuerySet[Any],
    exc: BaseException,
    *,
    now: dt.datetime | None,
    final: bool,
) -> Outcome:
    moment = now or timezone.now()
    reason = error_text(exc)
    record = getattr(exc, "record", {})
    if final or row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        return _give_up(kind, row, held, reason, record, moment)
    retry_at = moment + retry_delay(row.attempts)
    held.update(
        delivery_status=PENDING,
        last_error=reason,
        next_attempt_at=retry_at,
        claimed_at=None,
        claim_token=None,
        **record,
        **_stamp(kind, moment),
    )
    logger.info("%s %s attempt %s failed: %s", kind.name, row.pk, row.attempts, reason)
    return Outcome(Outcome.RETRY, retry_at=retry_at, detail=reason)


def _give_up(
    kind: OutboxKind,
    row: Any,
    held: QuerySet[Any],
    reason: str,
    record: Mapping[str, object],
    now: dt.datetime,
) -> Outcome:
    """After the last attempt: the kind's fallback route with attempts anew, else failed."""
    reroute = kind.fallback(row, now)
    if reroute is not None:
        held.update(
            delivery_status=PENDING,
            attempts=0,
            last_error=reason,
            next_attempt_at=now,
            claimed_at=None,
            claim_token=None,
            **record,
            **reroute,
            **_stamp(kind, now),
        )
        logger.warning("%s %s falls back after: %s", kind.name, row.pk, reason)
        return Outcome(Outcome.FALLBACK, retry_at=now, detail=reason)
    _close(kind, held, DeliveryStatus.FAILED, reason, now, **record)
    logger.warning("%s %s failed for good: %s", kind.name, row.pk, reason)
    return Outcome(Outcome.FAILED, detail=reason)


def recover_expired_claims(kind_name: str, *, now: dt.datetime) -> int:
    """Put rows claimed by a worker that died (lease expired) back to pending; return how many."""
    kind = get_kind(kind_name)
    return (
        kind.rows()
        .filter(delivery_status=SENDING, claimed_at__lt=lease_expired_before(now))
        .update(
            delivery_status=PENDING,
            claimed_at=None,
            claim_token=None,
            next_attempt_at=now,
            last_error=_("The worker stopped while sending; trying again."),
            **_stamp(kind, now),
        )
    )


def batches_due(kind_name: str, *, now: dt.datetime) -> int:
    """How many batch tasks the due rows of a kind need (at most OUTBOX_MAX_BATCHES_PER_SWEEP)."""
    limit = settings.OUTBOX_BATCH_SIZE * settings.OUTBOX_MAX_BATCHES_PER_SWEEP
    due = due_rows(kind_name, now=now).order_by().values("pk")[:limit].count()
    return math.ceil(due / settings.OUTBOX_BATCH_SIZE)


def sweep_kind(kind_name: str, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Recover expired claims, run the kind's pre-sweep, count the batches now due."""
    moment = now or timezone.now()
    kind = get_kind(kind_name)
    recovered = recover_expired_claims(kind_name, now=moment)
    created = kind.before_sweep(moment) if kind.before_sweep is not None else 0
    return {
        "recovered": recovered,
        "created": created,
        "batches": batches_due(kind_name, now=moment),
    }


def kinds() -> list[str]:
    return sorted(KINDS)
