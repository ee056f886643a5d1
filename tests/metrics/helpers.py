"""Shared builders for the metrics tests: a fixed March 2025 and facts placed in it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from metrics.periods import MetricFilters, Period
from surveys.models import Survey, SurveyResponse
from tests.factories import SurveyFactory, SurveyInvitationFactory, SurveyResponseFactory

MARCH = Period(start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))
IN_MARCH = timezone.make_aware(dt.datetime(2025, 3, 10, 12, 0), timezone.get_default_timezone())
BEFORE_MARCH = IN_MARCH - dt.timedelta(days=30)


def march(**slices: Any) -> MetricFilters:
    return MetricFilters(period=MARCH, **slices)


def answer(
    survey: Survey, score: int, *, at: dt.datetime = IN_MARCH, **invitation: Any
) -> SurveyResponse:
    """One response to `survey`, answered at `at`, its invitation carrying `invitation`."""
    created = min(at, IN_MARCH) - dt.timedelta(days=1)
    return SurveyResponseFactory.create(
        invitation=SurveyInvitationFactory.create(survey=survey, created_at=created, **invitation),
        score=score,
        answered_at=at,
    )


def survey(kind: str, **fields: Any) -> Survey:
    return SurveyFactory.create(kind=kind, **fields)
