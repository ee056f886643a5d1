"""Metric snapshots: one figure per day, metric and slice, with a well-formed interval."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from metrics.models import MetricSnapshot
from tests.factories import MetricSnapshotFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 3, 10)


@pytest.mark.parametrize(
    "slice_",
    [
        {"dimension": "", "dimension_value": ""},
        {"dimension": "channel", "dimension_value": "phone"},
    ],
)
def test_a_metric_is_snapshotted_once_per_day_and_slice(slice_: dict[str, str]) -> None:
    MetricSnapshotFactory.create(day=DAY, metric="csat", **slice_)

    with pytest.raises(IntegrityError), transaction.atomic():
        MetricSnapshotFactory.create(day=DAY, metric="csat", **slice_)


def test_other_days_metrics_and_slices_have_their_own_snapshot() -> None:
    MetricSnapshotFactory.create(day=DAY, metric="csat")

    MetricSnapshotFactory.create(day=DAY + dt.timedelta(days=1), metric="csat")
    MetricSnapshotFactory.create(day=DAY, metric="nps")
    MetricSnapshotFactory.create(
        day=DAY, metric="csat", dimension="channel", dimension_value="phone"
    )
    MetricSnapshotFactory.create(
        day=DAY, metric="csat", dimension="channel", dimension_value="email"
    )

    assert MetricSnapshot.objects.count() == 5


def test_a_dimension_without_its_value_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        MetricSnapshotFactory.create(dimension="channel", dimension_value="")


def test_an_interval_whose_low_end_is_above_its_high_end_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        MetricSnapshotFactory.create(ci_low=90.0, ci_high=80.0)


@pytest.mark.parametrize(("low", "high"), [(80.0, 80.0), (None, 80.0), (None, None)])
def test_a_degenerate_or_missing_interval_is_accepted(
    low: float | None, high: float | None
) -> None:
    snapshot = MetricSnapshotFactory.create(ci_low=low, ci_high=high)

    snapshot.full_clean()
