"""A business-hours calendar: a weekly schedule of working intervals in one time zone, with
holidays, and the working time between two moments. It reads an `SLAPolicy`'s schedule and
knows nothing else of tickets, so the model can validate its schedule with it
(`SLAPolicy.clean`) and the SLA clocks (`tickets.sla`) can count with it."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class Schedule(Protocol):
    """What the calendar reads of an SLA policy (tickets.models.SLAPolicy)."""

    business_hours: Any
    time_zone: str


# A schedule is walked day by day; a target no schedule can fit into within this many days means
# the schedule is broken (e.g. every weekday empty), not that the ticket is due in ten years.
MAX_CALENDAR_DAYS = 3 * 366
HOLIDAYS_KEY = "holidays"
ISO_WEEKDAYS = frozenset(str(day) for day in range(1, 8))
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
    def from_policy(cls, policy: Schedule | None) -> BusinessCalendar | None:
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
