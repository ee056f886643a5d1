"""Quiet hours: no reminder or survey reaches a customer at night in their own time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils import timezone


def _parse(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


def customer_zone(time_zone: str) -> dt.tzinfo:
    """The customer's zone, or the site's when they have none (or an unknown one)."""
    if time_zone:
        try:
            return zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.get_default_timezone()


def in_quiet_hours(moment: dt.datetime, zone: dt.tzinfo) -> bool:
    """Whether `moment` falls inside the quiet window in `zone` (the window may span midnight)."""
    start = _parse(settings.DELIVERY_QUIET_HOURS_START)
    end = _parse(settings.DELIVERY_QUIET_HOURS_END)
    local = moment.astimezone(zone).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed_time(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """`moment` itself outside quiet hours, else the end of the window (the morning), in UTC."""
    if not in_quiet_hours(moment, zone):
        return moment
    end = _parse(settings.DELIVERY_QUIET_HOURS_END)
    local = moment.astimezone(zone)
    morning = dt.datetime.combine(local.date(), end, tzinfo=zone)
    if morning <= local:
        morning = dt.datetime.combine(local.date() + dt.timedelta(days=1), end, tzinfo=zone)
    return morning.astimezone(dt.UTC)


def start_of_day(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The first moment of `day` at which a message may go out in `zone`."""
    midnight = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return next_allowed_time(midnight, zone)
