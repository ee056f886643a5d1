"""Surveys react to tickets: a resolved ticket asks its customer how it went."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tickets.models import Status


def on_ticket_status_changed(
    sender: Any, *, ticket_id: int, to_status: str, at: dt.datetime, **kwargs: Any
) -> None:
    """Enqueue the CSAT (and CES) invitation once the resolving transaction has committed.

    The signal is sent after commit already, so the task never sees a ticket that rolls back.
    """
    if to_status != Status.RESOLVED:
        return
    from surveys.tasks import invite_after_ticket_resolved

    invite_after_ticket_resolved.delay(ticket_id=ticket_id)
