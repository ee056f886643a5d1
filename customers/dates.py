"""Calendar arithmetic for warranty, support and subscription terms; the dates a record may
have."""

from __future__ import annotations

import calendar
import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last_day))


@deconstructible
class PastMomentValidator:
    """A date or time that a business record can have for something that already happened:
    not before settings.CRM_EARLIEST_DATE, and not later than now plus
    settings.CRM_FUTURE_LEEWAY_SECONDS (clocks and time zones of the systems that send it).

    A purchase dated 1850 or in year 1 is a typo or a placeholder, never a sale; one dated next
    month has not happened. The bounds are read on every call, so they are settings, not
    migrations.
    """

    def __call__(self, value: dt.date | dt.datetime | None) -> None:
        if value is None:
            return
        earliest = settings.CRM_EARLIEST_DATE
        leeway = dt.timedelta(seconds=settings.CRM_FUTURE_LEEWAY_SECONDS)
        now = timezone.now()
        if isinstance(value, dt.datetime):
            zone = timezone.get_default_timezone()
            aware = value if timezone.is_aware(value) else timezone.make_aware(value, zone)
            too_early = aware < dt.datetime.combine(earliest, dt.time(), tzinfo=zone)
            too_late = aware > now + leeway
        else:
            too_early = value < earliest
            too_late = value > timezone.localdate(now + leeway)
        if too_early:
            raise ValidationError(
                _("Enter a date on or after %(earliest)s.") % {"earliest": earliest.isoformat()},
                code="too_early",
            )
        if too_late:
            raise ValidationError(
                _("Enter a date that is not in the future."), code="in_the_future"
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PastMomentValidator)

    def __hash__(self) -> int:
        return hash(type(self))


validate_past_moment = PastMomentValidator()
