"""Lead times of reminders ({"warranty": [30, 7], ...}): the one check every writer of them
uses (the site's settings, a product category, the admin, the API). It knows the reminder kinds
by their stored values, so the models can validate with it without importing the reminders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# The values of Reminder.Kind that count down to a purchase's end date (customers.reminders).
LEAD_DAY_KINDS = frozenset({"warranty", "support", "renewal"})
# Ten years: a longer lead is a typo, not a business rule.
MAX_LEAD_DAYS = 3660


def validate_lead_days(value: Any, *, field: str) -> None:
    """Raise ValidationError on `field` unless `value` maps reminder kinds to lists of days."""
    if not isinstance(value, Mapping):
        raise ValidationError(
            {field: _('Give lead times per kind, e.g. {"warranty": [30, 7]}.')}, code="invalid"
        )
    for kind, days in value.items():
        if kind not in LEAD_DAY_KINDS:
            raise ValidationError(
                {
                    field: _("Unknown reminder kind %(kind)s; use warranty, support or renewal.")
                    % {"kind": kind}
                },
                code="invalid_kind",
            )
        if not isinstance(days, list) or not all(
            isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= MAX_LEAD_DAYS
            for day in days
        ):
            raise ValidationError(
                {
                    field: _("Lead times for %(kind)s must be whole days from 0 to %(max)s.")
                    % {"kind": kind, "max": MAX_LEAD_DAYS}
                },
                code="invalid_days",
            )
