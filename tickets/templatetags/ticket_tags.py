"""Template helpers for SLA clocks: "2 h 05 min left", "15 min over", and their badge class."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext as _

from tickets.sla import SLAClock, SLAState

register = template.Library()

SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60
HOURS_PER_DAY = 24

BADGE_CLASS = {
    SLAState.ON_TIME: "ok",
    SLAState.MET: "ok",
    SLAState.AT_RISK: "warn",
    SLAState.BREACHED: "bad",
    SLAState.NONE: "",
}


def _span(delta: dt.timedelta) -> str:
    minutes = int(abs(delta).total_seconds()) // SECONDS_PER_MINUTE
    hours, minutes = divmod(minutes, MINUTES_PER_HOUR)
    days, hours = divmod(hours, HOURS_PER_DAY)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


@register.filter
def sla_remaining(clock: SLAClock | None) -> str:
    """Time left, or time over, on one clock."""
    if clock is None:
        return "—"
    if clock.remaining < dt.timedelta(0) or clock.state == SLAState.BREACHED:
        return _("%(span)s over") % {"span": _span(clock.remaining)}
    if clock.state == SLAState.MET:
        return _("met, %(span)s to spare") % {"span": _span(clock.remaining)}
    return _("%(span)s left") % {"span": _span(clock.remaining)}


@register.filter
def sla_badge(state: SLAState | str) -> str:
    """The CSS badge class of an SLA state."""
    return BADGE_CLASS.get(SLAState(state), "")


@register.filter
def sla_label(state: SLAState | str) -> str:
    labels = {
        SLAState.NONE: _("No SLA"),
        SLAState.ON_TIME: _("On time"),
        SLAState.AT_RISK: _("At risk"),
        SLAState.BREACHED: _("Breached"),
        SLAState.MET: _("Met"),
    }
    return labels[SLAState(state)]
