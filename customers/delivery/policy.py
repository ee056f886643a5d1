"""The delivery rules shared by reminders and survey invitations: outcomes and back-off."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

# A task that arrives this early for its next attempt still runs: broker clocks drift.
DUE_TOLERANCE = dt.timedelta(seconds=5)
# last_error is a text field; a provider's HTML error page is cut to a readable size.
MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt did; `retry_at` is set when a later attempt is due."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    DEFERRED = "deferred"
    NOT_CLAIMED = "not_claimed"

    status: str
    retry_at: dt.datetime | None = None
    detail: str = ""


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential back-off after the `attempts`-th failed attempt, capped."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.DELIVERY_RETRY_MAX_SECONDS)
    return dt.timedelta(seconds=seconds)


def stuck_before(now: dt.datetime) -> dt.datetime:
    """Claims older than this belong to a worker that died mid-send."""
    return now - dt.timedelta(seconds=settings.DELIVERY_STUCK_AFTER_SECONDS)


def error_text(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text[:MAX_ERROR_LENGTH]
