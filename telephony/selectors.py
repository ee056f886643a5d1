"""Reads of the telephony channel: the caller log."""

from __future__ import annotations

import datetime as dt

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from accounts.models import User
from core.dates import site_day_start
from telephony.models import Call, Direction

# Inbound, over, nobody answered, nobody called back: the calls the caller log lists first.
NEEDS_CALL_BACK = Q(
    direction=Direction.INBOUND,
    answered_at__isnull=True,
    ended_at__isnull=False,
    called_back_by__isnull=True,
)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The start and the end of a day in the site's time zone."""
    return site_day_start(day), site_day_start(day + dt.timedelta(days=1))


def calls_visible_to(user: User) -> QuerySet[Call]:
    """The calls of the user's team, those that rang or were answered by the user, and those
    no team took; every call for a user in no team (a supervisor over all queues)."""
    if user.team_id is None:
        return Call.objects.all()
    return Call.objects.filter(
        Q(team_id=user.team_id) | Q(team__isnull=True) | Q(operators=user) | Q(answered_by=user)
    ).distinct()


def caller_log(*, user: User, day: dt.date) -> QuerySet[Call]:
    """The day's calls of the user's team (its queue), those that rang the user and those
    no team took; missed and abandoned calls still to call back first, then newest first.

    A fixed number of queries whatever the number of calls (the operators prefetched)."""
    start, end = day_bounds(day)
    calls = calls_visible_to(user).filter(rang_at__gte=start, rang_at__lt=end)
    return (
        calls.annotate(
            needs_call_back=Case(
                When(NEEDS_CALL_BACK, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .select_related("customer", "answered_by", "called_back_by")
        .prefetch_related("operators")
        .order_by("-needs_call_back", "-rang_at", "-id")
    )
