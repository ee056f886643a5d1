"""The customer base's figures of several periods, read the cheapest exact way: from the
per-customer-day purchase summary and its daily rollup where they answer, else from the
grouped query over the purchases (`metrics.definitions.customer_base.customer_totals`).

The customer-base metrics (`MetricDefinition.from_customer_figures`) are functions of these
figures; they do not know where the figures came from.
"""

from __future__ import annotations

import math
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from metrics import customer_rollup, purchase_days
from metrics.definitions import customer_base
from metrics.models import PurchaseDay
from metrics.periods import MetricFilters, Period

# Subscribers answered by the grouped query up to this many are named by id (customer_figures).
LAPSING_ID_LIST_LIMIT = 20_000


def customer_figures(filters: MetricFilters, periods: list[Period]) -> list[dict[str, Any]]:
    """Everything the customer-base metrics need, for each of `periods`.

    Read from the per-customer-day summary (`metrics.purchase_days`: counts of rows in ranges
    of days, no grouping, and its daily rollup) where it applies, with the customers whose
    subscriptions can lapse in the window answered by the grouped query
    (`customer_base.customer_totals`); else by the grouped query alone. Both give additive
    totals, added here and turned into the figures.

    Per period: {"activity": {customers, repeaters, orders (customer-days), revenue,
    revenue_with_cost, cost}, "base": {at_start, lost, at_end, new}, "clv": {n, mean,
    mean_sq, margin}}.
    """
    window_days = customer_base.churn_inactivity_days()
    if purchase_days.applies(filters, periods, window_days):
        lapsing: Any = purchase_days.subscribers(filters, periods, window_days)
        # A few thousand subscribers are read as a list of ids, which the planner meets
        # with index lookups; as a subquery it hashed them and scanned every row (0.6 s
        # for 9,000 subscribers among 4.5 million customer-days). More stay a subquery.
        # Rows, not DISTINCT: a DISTINCT with a LIMIT walked the customer index in order.
        limit = min(LAPSING_ID_LIST_LIMIT, connection.features.max_query_params or math.inf)
        rows = list(lapsing.order_by().values_list("customer_id", flat=True)[: int(limit) + 1])
        if len(rows) <= limit:
            lapsing = sorted(set(rows))
        if lapsing:
            parts = [
                _summary_totals(filters, periods, window_days, exclude=lapsing),
                customer_base.customer_totals(filters, periods, customers=lapsing),
            ]
        else:  # no subquery to test each row against
            parts = [_summary_totals(filters, periods, window_days)]
    else:
        parts = [customer_base.customer_totals(filters, periods)]
    results = []
    for i in range(len(periods)):
        total = {
            key: sum((part[i][key] or 0 for part in parts), start=0)
            for key in customer_base.CUSTOMER_COUNTS + customer_base.CUSTOMER_SUMS
        }
        n, margin_n = total["clv_n"], total["margin_n"]
        results.append(
            {
                "activity": {
                    key: total[key]
                    for key in (
                        "customers",
                        "repeaters",
                        "orders",
                        "revenue",
                        "revenue_with_cost",
                        "cost",
                    )
                },
                "base": {key: int(total[key]) for key in ("at_start", "lost", "at_end", "new")},
                "clv": {
                    "n": n,
                    "mean": total["clv_sum"] / n if n else None,
                    "mean_sq": total["clv_sum_sq"] / n if n else None,
                    "margin": total["margin_sum"] / margin_n if margin_n else None,
                },
            }
        )
    return results


def _summary_totals(
    filters: MetricFilters,
    periods: list[Period],
    window_days: int,
    *,
    exclude: QuerySet[Any] | list[int] | None = None,
) -> list[dict[str, Any]]:
    """Per period, the additive totals of `customer_base.customer_totals` for every
    customer but those in `exclude`, as sums over the customers' purchase days
    (metrics.customer_rollup): from the daily rollup for the days it covers, or, under a
    segment slice (not a rollup dimension), from the rows of the segment's customers."""
    if filters.segment:
        rows = purchase_days.rows(filters)
        if exclude is not None:
            rows = rows.exclude(customer_id__in=exclude)
        return customer_rollup.summary_totals(rows, periods, window_days)
    parts = [(1, customer_rollup.totals(periods, window_days))]
    if exclude is not None:
        excluded = PurchaseDay.objects.filter(customer_id__in=exclude)
        parts.append((-1, customer_rollup.summary_totals(excluded, periods, window_days)))
    return customer_rollup.add(*parts)
