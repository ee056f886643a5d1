"""The one failure policy of the outbox: back-off with jitter, the claim lease, error texts."""

from __future__ import annotations

import datetime as dt
import random

from django.conf import settings

# A message that arrives this early for its next attempt still goes: broker clocks drift.
DUE_TOLERANCE = dt.timedelta(seconds=5)
# last_error is a text field; a provider's HTML error page is cut to a readable size.
MAX_ERROR_LENGTH = 1000

_jitter = random.SystemRandom()


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: doubling from the base up to the cap,
    spread by OUTBOX_RETRY_JITTER either way so that messages failed together (a gateway
    outage) do not all come back in the same second."""
    base = settings.OUTBOX_RETRY_BASE_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_MAX_SECONDS)
    spread = settings.OUTBOX_RETRY_JITTER
    if spread:
        seconds *= 1 + _jitter.uniform(-spread, spread)
    return dt.timedelta(seconds=seconds)


def retry_schedule() -> dt.timedelta:
    """How long the attempts of one message span at most (without jitter): the docs' figure."""
    base, cap = settings.OUTBOX_RETRY_BASE_SECONDS, settings.OUTBOX_RETRY_MAX_SECONDS
    waits = [min(base * 2 ** (n - 1), cap) for n in range(1, settings.OUTBOX_MAX_ATTEMPTS)]
    return dt.timedelta(seconds=sum(waits))


def lease_expired_before(now: dt.datetime) -> dt.datetime:
    """Claims older than this belong to a worker that died (or hung past its time limit)."""
    return now - dt.timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS)


def error_text(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text[:MAX_ERROR_LENGTH]
