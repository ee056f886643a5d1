"""The period and the slices every metric can be asked for (`MetricFilters`), in the site's
local days (`core.dates`). `metrics.forms.MetricFilterForm` parses them from a query string."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from core.dates import site_day_start, site_today

# With no dates given, the last 30 days up to today (what a supervisor looks at first).
DEFAULT_PERIOD_DAYS = 30
# Longer periods are refused: five years of facts is what the indexes are sized for.
MAX_PERIOD_DAYS = 5 * 366
# The mean length of a year (leap years included), for rates per year.
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Period:
    """Whole days from `start` to `end` inclusive, in the site's time zone."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> dt.datetime:
        return site_day_start(self.start)

    @property
    def end_before(self) -> dt.datetime:
        """The first instant after the period (half-open ranges: start_at <= t < end_before)."""
        return site_day_start(self.end + dt.timedelta(days=1))

    def previous(self) -> Period:
        """The period of equal length just before this one (for trend arrows)."""
        return Period(
            start=self.start - dt.timedelta(days=self.days),
            end=self.start - dt.timedelta(days=1),
        )


def default_period(*, today: dt.date | None = None) -> Period:
    today = today or site_today()
    return Period(start=today - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1), end=today)


@dataclass(frozen=True)
class MetricFilters:
    """A period and the optional slices. A slice that does not apply to a metric's facts
    (an operator for purchases, say) leaves that metric unfiltered; docs/metrics.md lists
    which slice applies to which metric."""

    period: Period
    channel: str = ""
    operator_id: int | None = None
    category_id: int | None = None
    segment: str = ""
    personalized: bool | None = None

    def with_period(self, period: Period) -> MetricFilters:
        return replace(self, period=period)

    def with_personalized(self, personalized: bool | None) -> MetricFilters:
        return replace(self, personalized=personalized)

    def with_channel(self, channel: str) -> MetricFilters:
        return replace(self, channel=channel)

    def as_query(self) -> dict[str, str]:
        """Back into query-string parameters (for links and exports)."""
        query = {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()}
        if self.channel:
            query["channel"] = self.channel
        if self.operator_id is not None:
            query["operator"] = str(self.operator_id)
        if self.category_id is not None:
            query["category"] = str(self.category_id)
        if self.segment:
            query["segment"] = self.segment
        if self.personalized is not None:
            query["personalized"] = "true" if self.personalized else "false"
        return query
