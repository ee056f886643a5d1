"""SLA state of a ticket: time left or time over for first response and resolution.

`ticket_sla()` is the one definition of "on time / at risk / breached" that the card, the queue,
the API and the metrics read. A clock is at risk when less than `AT_RISK_SHARE` of its target is
left. Business-hours calendars (SLAPolicy.business_hours) make the clocks count working time.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from tickets.models import Ticket

# "At risk" = less than 20% of the target left (the tickets issue's definition).
AT_RISK_SHARE = 0.2


class SLAState(enum.StrEnum):
    NONE = "none"  # no SLA policy applies
    ON_TIME = "on_time"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"  # the clock stopped within its target


@dataclass(frozen=True)
class SLAClock:
    """One SLA clock (first response or resolution)."""

    due_at: dt.datetime
    target: dt.timedelta
    # Positive: time left; negative: time over. Frozen at the moment the clock stopped.
    remaining: dt.timedelta
    state: SLAState


@dataclass(frozen=True)
class TicketSLA:
    first_response: SLAClock | None
    resolution: SLAClock | None

    @property
    def state(self) -> SLAState:
        """The worst of the two clocks, for a single badge."""
        states = [c.state for c in (self.first_response, self.resolution) if c is not None]
        for worst in (SLAState.BREACHED, SLAState.AT_RISK, SLAState.ON_TIME, SLAState.MET):
            if worst in states:
                return worst
        return SLAState.NONE


def _clock(
    *,
    start: dt.datetime,
    due_at: dt.datetime | None,
    stopped_at: dt.datetime | None,
    now: dt.datetime,
) -> SLAClock | None:
    if due_at is None:
        return None
    target = due_at - start
    end = stopped_at or now
    remaining = due_at - end
    if remaining < dt.timedelta(0):
        state = SLAState.BREACHED
    elif stopped_at is not None:
        state = SLAState.MET
    elif remaining < target * AT_RISK_SHARE:
        state = SLAState.AT_RISK
    else:
        state = SLAState.ON_TIME
    return SLAClock(due_at=due_at, target=target, remaining=remaining, state=state)


def ticket_sla(ticket: Ticket, *, now: dt.datetime) -> TicketSLA:
    """Both SLA clocks of `ticket` as they stand at `now`; reads no other rows."""
    return TicketSLA(
        first_response=_clock(
            start=ticket.created_at,
            due_at=ticket.first_response_due_at,
            stopped_at=ticket.first_response_at,
            now=now,
        ),
        resolution=_clock(
            start=ticket.created_at,
            due_at=ticket.resolution_due_at,
            stopped_at=ticket.resolved_at,
            now=now,
        ),
    )
