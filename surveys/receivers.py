"""Surveys react to tickets: a resolved ticket asks its customer how it went."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kombu.exceptions import OperationalError

from tickets.models import Status

logger = logging.getLogger(__name__)


def on_ticket_status_changed(
    sender: Any, *, ticket_id: int, to_status: str, at: dt.datetime, **kwargs: Any
) -> None:
    """Enqueue the CSAT (and CES) invitation once the resolving transaction has committed.

    The signal is sent after commit already, so the task never sees a ticket that rolls back.
    A broker that is down must not fail the operator's request: the resolution is saved, and
    the next daily `create_due_invitations` run creates the invitation the task missed.
    """
    if to_status != Status.RESOLVED:
        return
    from surveys.tasks import invite_after_ticket_resolved

    try:
        invite_after_ticket_resolved.delay(ticket_id=ticket_id)
    except OperationalError:
        logger.exception("could not enqueue the survey of resolved ticket %s", ticket_id)
