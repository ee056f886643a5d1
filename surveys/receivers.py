"""Surveys react to tickets: a resolved ticket asks its customer how it went."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from tickets.models import Status

logger = logging.getLogger(__name__)


def on_ticket_status_changed(
    sender: Any, *, ticket_id: int, to_status: str, at: dt.datetime, **kwargs: Any
) -> None:
    """Enqueue the CSAT (and CES) invitation once the resolving transaction has committed.

    The signal is sent after commit already, so the task never sees a ticket that rolls back.
    A broker that is down must not fail the operator's request: the resolution is saved, and
    the outbox sweep creates the invitation the task missed within minutes
    (`surveys.triggers.invite_for_recent_resolutions`).
    """
    if to_status != Status.RESOLVED:
        return
    from core.queue import enqueue
    from surveys.tasks import invite_after_ticket_resolved

    enqueue(invite_after_ticket_resolved, ticket_id=ticket_id)
