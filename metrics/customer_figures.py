"""The customer base's figures of several periods, read the cheapest exact way: from the
per-customer-day purchase summary and its daily rollup where they answer, else from the
grouped query over the purchases (`metrics.definitions.customer_base.customer_totals`).

The customer-base metrics (`MetricDefinition.from_customer_figures`) are functions of these
figures; they do not know where the figures came from.
"""

from __future__ import annotations

from typing import Any

from metrics import customer_rollup, purchase_days
from metrics.definitions import customer_base
from metrics.periods import MetricFilters, Period


def customer_figures(filters: MetricFilters, periods: list[Period]) -> list[dict[str, Any]]:
    """Everything the customer-base metrics need, for each of `periods`.

    Read from the per-customer-day summary (`metrics.purchase_days`: counts of rows in ranges
    of days, no grouping, and its daily rollup) where it applies, with the corrections only
    the rows tell (`purchase_days.corrections`: subscriptions that ended unrenewed, and the
    customers lost over a period longer than the window); else by the grouped query over
    the purchases (`customer_base.customer_totals`). Both give additive totals, turned into
    the figures here.

    Per period: {"activity": {customers, repeaters, orders (customer-days), revenue,
    revenue_with_cost, cost}, "base": {at_start, lost, at_end, new}, "clv": {n, mean,
    mean_sq, margin}}.
    """
    window_days = customer_base.churn_inactivity_days()
    if purchase_days.applies(filters, periods, window_days):
        totals = _summary_totals(filters, periods, window_days)
        for total, correction in zip(
            totals, purchase_days.corrections(filters, periods, window_days), strict=True
        ):
            for key, amount in correction.items():
                total[key] = (total[key] or 0) + amount
    else:
        totals = customer_base.customer_totals(filters, periods)
    results = []
    for i in range(len(periods)):
        total = {
            key: totals[i][key] or 0
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
    filters: MetricFilters, periods: list[Period], window_days: int
) -> list[dict[str, Any]]:
    """Per period, the additive totals of `customer_base.customer_totals` as sums over the
    customers' purchase days (metrics.customer_rollup): from the daily rollup for the days
    it covers, or, under a segment slice (not a rollup dimension), from the rows of the
    segment's customers."""
    if filters.segment:
        return customer_rollup.summary_totals(purchase_days.rows(filters), periods, window_days)
    return customer_rollup.totals(periods, window_days)
