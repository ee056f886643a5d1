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
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tickets.models import SLAPolicy, Ticket

# "At risk" = no more than 20% of the target left (the tickets issue's definition).
AT_RISK_SHARE = 0.2
# A schedule is walked day by day; a target no schedule can fit into within this many days means
# the schedule is broken (e.g. every weekday empty), not that the ticket is due in ten years.
MAX_CALENDAR_DAYS = 3 * 366
HOLIDAYS_KEY = "holidays"
ISO_WEEKDAYS = frozenset(str(day) for day in range(1, 8))


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


# --- Business-hours calendar ----------------------------------------------------------------


def _parse_clock(value: Any) -> dt.time:
    try:
        hours, minutes = str(value).split(":")
        return dt.time(int(hours), int(minutes))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            _("“%(value)s” is not a time of day like 09:00.") % {"value": value}
        ) from exc


@dataclass(frozen=True)
class BusinessCalendar:
    """A weekly schedule of working intervals in one time zone, with optional holidays."""

    zone: zoneinfo.ZoneInfo
    # ISO weekday (1 = Monday) -> [(start, end), ...] local times, sorted, not overlapping.
    week: dict[int, tuple[tuple[dt.time, dt.time | None], ...]]
    holidays: frozenset[dt.date]

    @classmethod
    def from_policy(cls, policy: SLAPolicy | None) -> BusinessCalendar | None:
        """The policy's calendar, or None when its clocks run on wall-clock time."""
        if policy is None or not policy.business_hours:
            return None
        return cls.parse(policy.business_hours, policy.time_zone or settings.TIME_ZONE)

    @classmethod
    def parse(cls, schedule: dict[str, Any], time_zone: str) -> BusinessCalendar:
        """Read `{"1": [["09:00", "18:00"]], ..., "holidays": ["2026-01-01"]}`.

        "24:00" (or "00:00" as an end) closes an interval at midnight.
        """
        if not isinstance(schedule, dict):
            raise ValidationError(_("Business hours map weekdays 1-7 to lists of intervals."))
        week: dict[int, tuple[tuple[dt.time, dt.time | None], ...]] = {}
        for key, intervals in schedule.items():
            if key == HOLIDAYS_KEY:
                continue
            if str(key) not in ISO_WEEKDAYS or not isinstance(intervals, list):
                raise ValidationError(_("Business hours map weekdays 1-7 to lists of intervals."))
            parsed: list[tuple[dt.time, dt.time | None]] = []
            for interval in intervals:
                if not isinstance(interval, list | tuple) or len(interval) != 2:
                    raise ValidationError(_('Each interval is a pair like ["09:00", "18:00"].'))
                start_text, end_text = (str(part) for part in interval)
                start = _parse_clock(start_text)
                end = None if end_text in {"24:00", "00:00"} else _parse_clock(end_text)
                if end is not None and end <= start:
                    raise ValidationError(
                        _("An interval must end after it starts: %(start)s-%(end)s.")
                        % {"start": start_text, "end": end_text}
                    )
                parsed.append((start, end))
            parsed.sort(key=lambda pair: pair[0])
            week[int(key)] = tuple(parsed)
        if not any(week.values()):
            raise ValidationError(_("Business hours need at least one working interval."))
        try:
            holidays = frozenset(
                dt.date.fromisoformat(str(day)) for day in schedule.get(HOLIDAYS_KEY, [])
            )
        except ValueError as exc:
            raise ValidationError(_("Holidays are dates like 2026-01-01.")) from exc
        try:
            zone = zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(_("Unknown time zone.")) from exc
        return cls(zone=zone, week=week, holidays=holidays)

    def intervals_from(self, moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working intervals in UTC, in order, from the local day of `moment` on.

        Local wall times become UTC through the zone, so a day with a DST change has the
        working time it really has.
        """
        day = moment.astimezone(self.zone).date()
        for _step in range(MAX_CALENDAR_DAYS):
            if day not in self.holidays:
                for start, end in self.week.get(day.isoweekday(), ()):
                    local_start = dt.datetime.combine(day, start, tzinfo=self.zone)
                    if end is None:
                        local_end = dt.datetime.combine(
                            day + dt.timedelta(days=1), dt.time(0), tzinfo=self.zone
                        )
                    else:
                        local_end = dt.datetime.combine(day, end, tzinfo=self.zone)
                    yield local_start.astimezone(dt.UTC), local_end.astimezone(dt.UTC)
            day += dt.timedelta(days=1)
        raise ValidationError(_("The business hours leave no working time for this target."))

    def add(self, start: dt.datetime, working: dt.timedelta) -> dt.datetime:
        """The moment `working` time after `start`, counting only working intervals."""
        start = start.astimezone(dt.UTC)
        left = working
        for begin, end in self.intervals_from(start):
            if end <= start:
                continue
            begin = max(begin, start)
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise AssertionError("unreachable: intervals_from raises first")  # pragma: no cover

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Working time from `start` to `end`; negative when `end` comes first."""
        if end < start:
            return -self.between(end, start)
        start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        total = dt.timedelta(0)
        for begin, finish in self.intervals_from(start):
            if begin >= end:
                break
            overlap = min(finish, end) - max(begin, start)
            if overlap > dt.timedelta(0):
                total += overlap
        return total


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
