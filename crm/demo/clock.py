"""Times for demo data: laid back from the close of the last business day before "now".

The demo company's day ends at CLOSING_HOUR (site time). Everything happens in business hours
on or before the last such close, and every "has this happened yet?" question is asked of that
moment, not of the wall clock. So a seed gives the same content whenever it runs, whatever the
hour; only the calendar shifts it (months differ in length, so terms end on other weekdays).
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from django.conf import settings

# Customers call, write and buy between these local hours of the site's time zone.
OPENING_HOUR = 9
CLOSING_HOUR = 21
SECONDS_PER_HOUR = 60 * 60
SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR
# The last close must lie at least this far back, so nothing is stamped at "now" itself.
SAFETY_MARGIN = dt.timedelta(minutes=2)


class DemoClock:
    """Past moments drawn from a seeded random source, relative to a fixed `now`."""

    def __init__(self, *, now: dt.datetime) -> None:
        self.now = now
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        local_now = now.astimezone(self.zone)
        close = dt.datetime.combine(local_now.date(), dt.time(CLOSING_HOUR), tzinfo=self.zone)
        if close > local_now - SAFETY_MARGIN:
            close -= dt.timedelta(days=1)
        # The close of the demo's last business day: its "now" for every decision.
        self.latest = close.astimezone(dt.UTC)
        self.today = close.date()

    def moment(self, rng: random.Random, days_back_min: float, days_back_max: float) -> dt.datetime:
        """A moment in business hours, the given numbers of days before the last close."""
        days_back = rng.uniform(days_back_min, days_back_max)
        seconds = rng.randrange((CLOSING_HOUR - OPENING_HOUR) * SECONDS_PER_HOUR)
        day = self.today - dt.timedelta(days=int(days_back))
        local = dt.datetime.combine(day, dt.time(OPENING_HOUR), tzinfo=self.zone)
        return (local + dt.timedelta(seconds=seconds)).astimezone(dt.UTC)

    def between(self, rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        """A moment uniformly between `start` and `end` (or `start` if they are reversed)."""
        span = max((end - start).total_seconds(), 0.0)
        return start + dt.timedelta(seconds=rng.uniform(0, span))

    def is_past(self, when: dt.datetime) -> bool:
        """Whether `when` had happened by the last close."""
        return when <= self.latest

    def days_ago(self, when: dt.datetime) -> float:
        """How many days before the last close `when` lies."""
        return (self.latest - when).total_seconds() / SECONDS_PER_DAY

    def local_date(self, when: dt.datetime) -> dt.date:
        """The calendar day of `when` in the site's time zone (the day terms run from)."""
        return when.astimezone(self.zone).date()

    def at_local(self, day: dt.date, hour: int) -> dt.datetime:
        """`hour` o'clock on `day` in the site's time zone, as an aware UTC time."""
        return dt.datetime.combine(day, dt.time(hour), tzinfo=self.zone).astimezone(dt.UTC)
