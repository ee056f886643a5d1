"""SLA state of a ticket: time left or time over for first response and resolution.

`ticket_sla()` is the one definition of "on time / at risk / breached" that the card, the queue,
the API and the metrics read. A clock is at risk once no more than `AT_RISK_SHARE` of its target
is left, and breached once its due time has passed.

With a business-hours schedule (`SLAPolicy.business_hours`) the clocks count only working time in
the policy's time zone. `due_times()` walks the schedule once, when the SLA is applied, and the
ticket stores the moments each clock becomes at risk and falls due, so that the queue can filter
"at risk" and "breached" in SQL; `ticket_sla()` reads the same stored moments, so the two agree.

The resolution clock keeps running while a ticket is pending: the customer waits either way.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from tickets.business_hours import BusinessCalendar
from tickets.models import SLAPolicy, Ticket

# "At risk" = no more than 20% of the target left (the tickets issue's definition).
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
    # Working time when the policy has business hours, wall-clock time otherwise.
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

    @property
    def deciding(self) -> tuple[str, SLAClock] | None:
        """The clock behind `state`, with its name ("first_response" or "resolution"), so a
        list shows the time of the clock that is breached or at risk, not the other one."""
        named = (("first_response", self.first_response), ("resolution", self.resolution))
        for name, clock in named:
            if clock is not None and clock.state == self.state:
                return name, clock
        return None


# --- Due times and clocks -------------------------------------------------------------------


@dataclass(frozen=True)
class DueTimes:
    """When each clock becomes at risk and falls due."""

    first_response_at_risk_at: dt.datetime
    first_response_due_at: dt.datetime
    resolution_at_risk_at: dt.datetime
    resolution_due_at: dt.datetime


def at_risk_offset(target: dt.timedelta) -> dt.timedelta:
    # Whole seconds, so that the stored moment and the displayed remainder round the same way.
    return dt.timedelta(seconds=int(target.total_seconds() * (1 - AT_RISK_SHARE)))


def due_times(policy: SLAPolicy, *, start: dt.datetime) -> DueTimes:
    """Walk the policy's calendar (or the wall clock) from `start` to each clock's moments."""
    calendar = BusinessCalendar.from_policy(policy)
    first = dt.timedelta(minutes=policy.first_response_minutes)
    resolution = dt.timedelta(minutes=policy.resolution_minutes)

    def after(working: dt.timedelta) -> dt.datetime:
        return calendar.add(start, working) if calendar else start + working

    return DueTimes(
        first_response_at_risk_at=after(at_risk_offset(first)),
        first_response_due_at=after(first),
        resolution_at_risk_at=after(at_risk_offset(resolution)),
        resolution_due_at=after(resolution),
    )


def _calendar_of(ticket: Ticket) -> BusinessCalendar | None:
    if ticket.sla_policy_id is None:
        return None
    # Callers listing tickets select_related("sla_policy"); one ticket costs one query.
    try:
        return BusinessCalendar.from_policy(ticket.sla_policy)
    except ValidationError:
        return None


def _clock(
    *,
    start: dt.datetime,
    at_risk_at: dt.datetime | None,
    due_at: dt.datetime | None,
    target_minutes: int | None,
    stopped_at: dt.datetime | None,
    now: dt.datetime,
    calendar: BusinessCalendar | None,
) -> SLAClock | None:
    if due_at is None:
        return None
    target = dt.timedelta(minutes=target_minutes) if target_minutes is not None else due_at - start
    if at_risk_at is None:  # due times set by hand or before at-risk moments were stored
        at_risk_at = start + at_risk_offset(due_at - start)
    end = stopped_at or now
    remaining = calendar.between(end, due_at) if calendar else due_at - end
    if end > due_at:
        state = SLAState.BREACHED
    elif stopped_at is not None:
        state = SLAState.MET
    elif now >= at_risk_at:
        state = SLAState.AT_RISK
    else:
        state = SLAState.ON_TIME
    return SLAClock(due_at=due_at, target=target, remaining=remaining, state=state)


def ticket_sla(ticket: Ticket, *, now: dt.datetime) -> TicketSLA:
    """Both SLA clocks of `ticket` as they stand at `now`.

    Reads the ticket's SLA policy (select_related("sla_policy") when listing) and no other row.
    """
    if ticket.first_response_due_at is None and ticket.resolution_due_at is None:
        return TicketSLA(first_response=None, resolution=None)
    calendar = _calendar_of(ticket)
    policy = ticket.sla_policy if ticket.sla_policy_id is not None else None
    return TicketSLA(
        first_response=_clock(
            start=ticket.created_at,
            at_risk_at=ticket.first_response_at_risk_at,
            due_at=ticket.first_response_due_at,
            target_minutes=policy.first_response_minutes if policy else None,
            stopped_at=ticket.first_response_at,
            now=now,
            calendar=calendar,
        ),
        resolution=_clock(
            start=ticket.created_at,
            at_risk_at=ticket.resolution_at_risk_at,
            due_at=ticket.resolution_due_at,
            target_minutes=policy.resolution_minutes if policy else None,
            stopped_at=ticket.resolved_at,
            now=now,
            calendar=calendar,
        ),
    )
