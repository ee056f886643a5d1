"""Restricting an aggregate to some rows after it was built: the one place that relies on a
private part of Django.

Why it exists: several metrics of one family read the same rows, each only those its `where`
selects (`FactMetric.where`), and the one-pass engine and the daily rollups answer a whole
family with one query of aggregates, each with its own `FILTER (WHERE ...)`. A metric's
aggregates are written once, without knowing of the family (`Count("pk", filter=SATISFIED)`),
so the family's condition (and a period's) is added to them afterwards, AND-ed with any
filter they already carry.

What it relies on (Django 6.1, pinned in pyproject.toml): an aggregate's `filter` attribute
holds the condition wrapped in the private `django.db.models.aggregates.AggregateFilter`, whose
`condition` is the Q given to `filter=`. A Django upgrade that changes this breaks
`tests/metrics/test_aggregate_filter.py` first.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db.models import Q
from django.db.models.aggregates import AggregateFilter  # type: ignore[attr-defined]


def condition_of(aggregate: Any) -> Q | None:
    """The Q an aggregate is filtered on (its FILTER (WHERE ...)), or None."""
    return aggregate.filter.condition if aggregate.filter is not None else None


def restricted(aggregate: Any, where: Q | None) -> Any:
    """A copy of `aggregate` over only the rows `where` selects, AND-ed with its own filter;
    the aggregate itself when `where` is empty."""
    if not where:
        return aggregate
    current = condition_of(aggregate)
    condition = where if current is None else where & current
    copied = copy.copy(aggregate)
    copied.filter = AggregateFilter(condition)
    return copied
