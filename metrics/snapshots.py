"""Daily snapshots: every metric of one day, overall and per service channel.

The daily job calls `store_daily_snapshots(day=...)`; running it again for the same day
replaces that day's rows (delete and insert in one transaction), so it is idempotent.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from metrics.definitions.base import MEAN, NPS
from metrics.engine import compute_all, split_all
from metrics.models import MetricSnapshot
from metrics.periods import MetricFilters, Period
from metrics.registry import METRICS
from metrics.selectors import DETRACTORS_SUFFIX, PROMOTERS_SUFFIX, SD_SUFFIX
from metrics.stats import Estimate

CHANNEL = "channel"


def _rows(
    day: dt.date, name: str, estimate: Estimate, *, dimension: str = "", value: str = ""
) -> list[MetricSnapshot]:
    """The metric's row, plus what combining days needs: sd of a mean, NPS's two shares."""
    rows = [
        MetricSnapshot(
            day=day,
            metric=name,
            dimension=dimension,
            dimension_value=value,
            value=estimate.value,
            n=estimate.n,
            ci_low=estimate.ci_low,
            ci_high=estimate.ci_high,
        )
    ]
    kind = METRICS[name].kind
    extra: dict[str, float | None] = {}
    if kind == MEAN and estimate.sd is not None:
        extra[name + SD_SUFFIX] = estimate.sd
    if kind == NPS and estimate.has_data:
        extra[name + PROMOTERS_SUFFIX] = estimate.components["promoters"]
        extra[name + DETRACTORS_SUFFIX] = estimate.components["detractors"]
    rows += [
        MetricSnapshot(
            day=day,
            metric=metric,
            dimension=dimension,
            dimension_value=value,
            value=figure,
            n=estimate.n,
        )
        for metric, figure in extra.items()
    ]
    return rows


@transaction.atomic
def store_daily_snapshots(*, day: dt.date) -> int:
    """Compute every metric for `day` (overall, and per channel where it has data) and
    replace that day's snapshots. Returns the number of rows stored."""
    filters = MetricFilters(period=Period(start=day, end=day))
    rows: list[MetricSnapshot] = []
    for name, estimate in compute_all(filters).items():
        rows += _rows(day, name, estimate)
    by_channel = split_all(list(METRICS), filters, CHANNEL)
    for name, split in by_channel.items():
        for channel, estimate in split.items():
            if channel and estimate.n:
                rows += _rows(day, name, estimate, dimension=CHANNEL, value=str(channel))
    MetricSnapshot.objects.filter(day=day).delete()
    MetricSnapshot.objects.bulk_create(rows)
    return len(rows)
