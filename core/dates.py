"""Days in the site's time zone (settings.TIME_ZONE).

Terms, rollups, snapshots and metric periods count days where the business is, never in the
zone an operator has chosen for their own screens (that one is activated per request by
core.middleware and is what `timezone.localdate()` with no zone returns).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def site_today(now: dt.datetime | None = None) -> dt.date:
    """Today (or the day of `now`) in the site's time zone."""
    return timezone.localdate(now or timezone.now(), timezone.get_default_timezone())


def site_day(moment: dt.datetime) -> dt.date:
    """The site-local day of an instant; a naive one is read as site-local time."""
    zone = timezone.get_default_timezone()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, zone)
    return timezone.localtime(moment, zone).date()


def site_day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the site's time zone, as an aware datetime."""
    zone = timezone.get_default_timezone()
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), zone)
