"""Days in the site's time zone do not move with the zone an operator has chosen."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.test import override_settings
from django.utils import timezone

from core.dates import site_day, site_day_start, site_today

# 22:30 UTC on 1 March is 2 March in Moscow (UTC+3) and still 1 March in New York (UTC-5).
LATE_EVENING_UTC = dt.datetime(2025, 3, 1, 22, 30, tzinfo=dt.UTC)


@override_settings(TIME_ZONE="Europe/Moscow")
def test_site_today_is_the_sites_day_whatever_zone_the_operator_activated() -> None:
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert timezone.localdate(LATE_EVENING_UTC) == dt.date(2025, 3, 1)
        assert site_today(LATE_EVENING_UTC) == dt.date(2025, 3, 2)
        assert site_day(LATE_EVENING_UTC) == dt.date(2025, 3, 2)


@override_settings(TIME_ZONE="Europe/Moscow")
def test_a_naive_moment_is_read_as_site_time() -> None:
    assert site_day(dt.datetime(2025, 3, 1, 23, 59)) == dt.date(2025, 3, 1)
    assert site_day(dt.datetime(2025, 3, 2, 0, 0)) == dt.date(2025, 3, 2)


@override_settings(TIME_ZONE="Europe/Berlin")
@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [(dt.date(2025, 1, 15), 23), (dt.date(2025, 7, 15), 22)],  # CET, then CEST
)
def test_the_day_starts_at_the_sites_midnight(day: dt.date, utc_hour: int) -> None:
    start = site_day_start(day)
    assert start.astimezone(dt.UTC) == dt.datetime.combine(
        day - dt.timedelta(days=1), dt.time(utc_hour), tzinfo=dt.UTC
    )
    assert site_day(start) == day
    assert site_day(start - dt.timedelta(microseconds=1)) == day - dt.timedelta(days=1)
