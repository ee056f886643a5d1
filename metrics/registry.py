"""Every metric of PRODUCT.md's "Metrics: definitions", by its fixed snake_case name, in the
order the dashboard and the API show them; and the families of fact metrics (metrics that
read the same rows, answered together by one query).

The definitions live by domain in `metrics.definitions`; `metrics.engine` evaluates them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import cache
from typing import Any

from django.db.models import QuerySet

from metrics.definitions import commerce, contacts, customer_base, sentiment, surveys, tickets
from metrics.definitions.base import FactMetric, MetricDefinition
from metrics.definitions.tickets import MEDIAN_METRIC
from metrics.periods import MetricFilters

ORDER = (
    "csat",
    "csat_mean",
    "nps",
    "ces",
    "ces_easy",
    "repeat_purchase_rate",
    "churn_rate",
    "retention_rate",
    "average_resolution_time",
    MEDIAN_METRIC,
    "first_response_time",
    "first_contact_resolution",
    "resolution_rate",
    "abandonment_rate",
    "average_waiting_time",
    "interest_conversion_rate",
    "offer_conversion_rate",
    "sentiment_positive",
    "sentiment_neutral",
    "sentiment_negative",
    "clv_historical",
    "clv_simple",
)


def _by_name(*groups: list[MetricDefinition]) -> dict[str, MetricDefinition]:
    found = {definition.name: definition for group in groups for definition in group}
    if set(found) != set(ORDER):
        raise AssertionError(f"ORDER and the definitions differ: {set(found) ^ set(ORDER)}")
    return {name: found[name] for name in ORDER}


METRICS: dict[str, MetricDefinition] = _by_name(
    surveys.DEFINITIONS,
    sentiment.DEFINITIONS,
    tickets.DEFINITIONS,
    contacts.DEFINITIONS,
    commerce.DEFINITIONS,
    customer_base.DEFINITIONS,
)
# The metrics computed from the customer base's figures of a period (one pass for all).
CUSTOMER_METRICS = tuple(
    name for name, definition in METRICS.items() if definition.from_customer_figures
)

Members = list[tuple[str, FactMetric]]


@cache
def families() -> dict[str, Members]:
    """Every family of fact metrics by its key (the family, or the metric's own name). A
    metric with parts (`FactMetric.parts`) is a member of its own family and of each part's,
    under its name there too."""
    grouped: dict[str, Members] = defaultdict(list)
    for name, definition in METRICS.items():
        if definition.fact is not None:
            for piece in definition.fact.pieces:
                grouped[piece.family or name].append((name, piece))
    return dict(grouped)


def family_key(members: Members) -> str:
    name, fact = members[0]
    return fact.family or name


def family_of(name: str, piece: FactMetric | None = None) -> Members:
    """The fact metric `name` (or its part `piece`) with the other members of its family."""
    fact = piece or METRICS[name].fact
    assert fact is not None, name
    return families()[fact.family or name]


def family_rows(members: Members) -> Callable[[MetricFilters], QuerySet[Any]]:
    """The rows the family reads (its `base`; a metric alone reads its `source`)."""
    first = members[0][1]
    return first.base if first.family and first.base is not None else first.source
