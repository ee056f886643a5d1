"""Customer-base metrics: repeat purchase rate, churn, retention, historical and simple CLV.

They are per-customer questions over the purchase history ("was this customer active at the
start?", "did they buy on two days of the period?"). `customer_totals` answers them with one
grouped query over the completed purchases: additive totals per period (counts and sums that
add up across groups of customers). Each metric is a function of those totals; where the
totals come from (this query, the per-customer-day summary or its rollup) is
`metrics.customer_figures`'s business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, F, Max, Min, Q, QuerySet, Sum, When
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from customers.models import Purchase
from metrics import stats
from metrics.definitions.base import (
    MEAN,
    NON_NEGATIVE,
    SHARE,
    CustomerFigures,
    MetricDefinition,
    Paths,
    apply_filters,
    as_float,
    in_range,
    mean_of,
)
from metrics.periods import DAYS_PER_YEAR, MetricFilters, Period
from metrics.stats import Estimate

# Half a kopeck: revenue sums that differ by less are the same money (simple CLV's margin).
MONEY_EPSILON = 0.005
PURCHASE_PATHS: Paths = {"category": "product__category_id", "segment": "customer__segment"}
# The additive totals of a period: counts of customers and sums over them.
CUSTOMER_COUNTS = ("at_start", "lost", "at_end", "new", "customers", "repeaters", "orders")
CUSTOMER_SUMS = (
    "revenue",
    "revenue_with_cost",
    "cost",
    "clv_n",
    "clv_sum",
    "clv_sum_sq",
    "margin_n",
    "margin_sum",
)


def churn_inactivity_days() -> int:
    """Days without a purchase after which a customer counts as lost (settings)."""
    return int(getattr(settings, "METRICS_CHURN_INACTIVITY_DAYS", 365))


def completed_purchases(filters: MetricFilters) -> QuerySet[Any]:
    """The completed purchases of the slices that apply to purchases (any time)."""
    queryset = Purchase.objects.filter(status=Purchase.Status.COMPLETED)
    return apply_filters(queryset, filters, time=None, paths=PURCHASE_PATHS)


def customer_totals(
    filters: MetricFilters,
    periods: list[Period],
    *,
    customers: QuerySet[Any] | list[int] | None = None,
) -> list[dict[str, Any]]:
    """The customer-base totals of each period from the purchases themselves, in one query
    (of `customers` only when given).

    One pass over the completed purchases before the latest period's end, grouped by
    customer, with per-period conditional aggregates (first purchase ever, purchases in the
    inactivity window before the start and before the end, the last purchase, the latest
    subscription end before the end, the customer-days, revenue and known cost of the
    period, and the revenue and margin up to the period's end); then one aggregate per
    period over those customers: counts and sums, which add up across groups of customers.
    """
    window = dt.timedelta(days=churn_inactivity_days())
    costed = Q(product__cost__isnull=False)
    margin_line = Case(
        When(costed, then=F("amount") - F("product__cost") * F("quantity")),
        default=None,
    )
    day = TruncDate("purchased_at", tzinfo=timezone.get_default_timezone())
    inner: dict[str, Any] = {"first": Min("purchased_at")}
    outer: dict[str, Any] = {}
    for i, period in enumerate(periods):
        start_at, end_before = period.start_at, period.end_before
        in_window, in_period = (
            in_range("purchased_at", start_at - window, end_before),
            in_range("purchased_at", start_at, end_before),
        )
        until_end = in_range("purchased_at", None, end_before)
        inner |= {
            f"window{i}": Count("purchased_at", filter=in_window),
            f"before_start{i}": Count(
                "purchased_at", filter=in_range("purchased_at", start_at - window, start_at)
            ),
            f"last{i}": Max("purchased_at", filter=until_end),
            # The latest subscription end of every purchase before the period's end: a
            # subscription longer than the window lapses in the period all the same.
            f"sub_end{i}": Max("subscription_ends_on", filter=until_end),
            f"days{i}": Count(day, distinct=True, filter=in_period),
            f"line_revenue{i}": Sum("amount", filter=in_period),
            f"costed_revenue{i}": Sum("amount", filter=in_period & costed),
            f"known_cost{i}": Sum(F("product__cost") * F("quantity"), filter=in_period & costed),
            f"revenue_total{i}": Sum("amount", filter=until_end),
            f"margin_total{i}": Sum(margin_line, filter=until_end),
        }
        # Spelled out without negation: a NOT over a NULL aggregate would be NULL, not true.
        lapsed = Q(**{f"sub_end{i}__gte": period.start, f"sub_end{i}__lte": period.end})
        holds = (
            Q(**{f"sub_end{i}__isnull": True})
            | Q(**{f"sub_end{i}__lt": period.start})
            | Q(**{f"sub_end{i}__gt": period.end})
        )
        at_start = Q(**{f"before_start{i}__gt": 0})
        customer = Q(**{f"window{i}__gt": 0})
        revenue = as_float(F(f"revenue_total{i}"))
        margin = as_float(F(f"margin_total{i}"))
        outer |= {
            f"at_start{i}": Count("customer_id", filter=at_start),
            f"lost{i}": Count(
                "customer_id",
                filter=at_start & (Q(**{f"last{i}__lt": end_before - window}) | lapsed),
            ),
            f"at_end{i}": Count(
                "customer_id",
                filter=customer & Q(**{f"last{i}__gte": end_before - window}) & holds,
            ),
            # New: the first purchase ever falls in the period.
            f"new{i}": Count("customer_id", filter=customer & Q(first__gte=start_at)),
            f"customers{i}": Count("customer_id", filter=Q(**{f"days{i}__gt": 0})),
            f"repeaters{i}": Count("customer_id", filter=Q(**{f"days{i}__gte": 2})),
            f"orders{i}": Sum(f"days{i}"),
            f"revenue{i}": Sum(f"line_revenue{i}"),
            f"revenue_with_cost{i}": Sum(f"costed_revenue{i}"),
            f"cost{i}": Sum(f"known_cost{i}"),
            f"clv_n{i}": Count("customer_id", filter=Q(**{f"last{i}__isnull": False})),
            f"clv_sum{i}": Sum(revenue),
            f"clv_sum_sq{i}": Sum(revenue * revenue),
            f"margin_n{i}": Count(f"margin_total{i}"),
            f"margin_sum{i}": Sum(margin),
        }
    latest_end = max(period.end_before for period in periods)
    purchases = completed_purchases(filters).filter(purchased_at__lt=latest_end)
    if customers is not None:
        purchases = purchases.filter(customer_id__in=customers)
    row = purchases.values("customer_id").annotate(**inner).aggregate(**outer)
    return [
        {key: row[f"{key}{i}"] for key in CUSTOMER_COUNTS + CUSTOMER_SUMS}
        for i in range(len(periods))
    ]


# --- The figures, from the totals of a period ---------------------------------------------
# Each takes the period's customer figures (metrics.customer_figures: "activity", "base",
# "clv") and the period.


def repeat_purchase_rate(figures: CustomerFigures, period: Period) -> Estimate:
    """Customers with purchases on two or more days in the period / customers with any.

    Lines bought by one customer on one day are one transaction (one order).
    """
    activity = figures["activity"]
    return stats.share(int(activity["repeaters"]), int(activity["customers"]))


def churn_rate(figures: CustomerFigures, period: Period) -> Estimate:
    """Customers lost during the period / customers at its start, in percent.

    A customer is a customer at an instant when they bought within the inactivity window
    before it. Lost: a customer at the start who is not at the end, or whose latest
    subscription (of the purchases in the window before the end) ended in the period without
    a renewal.
    """
    base = figures["base"]
    return stats.share(
        base["lost"], base["at_start"], components={"inactivity_days": churn_inactivity_days()}
    )


def retention_rate(figures: CustomerFigures, period: Period) -> Estimate:
    """(customers at end - new customers) / customers at start x 100 (new: first purchase
    ever in the period).

    The Wilson interval applies while the retained count lies within the starting base (it
    can exceed it when lapsed customers come back).
    """
    base = figures["base"]
    start, retained = base["at_start"], base["at_end"] - base["new"]
    if start <= 0:
        return Estimate(value=None, n=0, components=base)
    if 0 <= retained <= start:
        return stats.share(retained, start, components=base)
    return Estimate(value=stats.PERCENT * retained / start, n=start, components=base)


def historical_clv(figures: CustomerFigures, period: Period) -> Estimate:
    """Revenue per customer from their first purchase to the end of the period (mean, t CI).

    The margin (revenue less known product cost) is averaged over the same customers,
    counting only lines whose product has a cost.
    """
    row = figures["clv"]
    result = stats.within(mean_of()(row), NON_NEGATIVE)  # revenue to date is never negative
    if not result.has_data:
        return result
    return Estimate(
        value=result.value,
        n=result.n,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        sd=result.sd,
        components={"average_margin": row["margin"], "currency": settings.DEFAULT_CURRENCY},
    )


def simple_clv(figures: CustomerFigures, period: Period) -> Estimate:
    """AOV x purchases per customer per year x expected lifespan x margin, over the period.

    Orders are customer-days; the margin is the measured one where every line in the period
    has a product cost, else `CLV_DEFAULT_MARGIN`. n is the number of buying customers.
    """
    activity = figures["activity"]
    customers, orders = int(activity["customers"]), int(activity["orders"])
    if not customers or not orders:
        return Estimate(value=None, n=0)
    revenue = float(activity["revenue"])
    costed = float(activity["revenue_with_cost"])
    margin = settings.CLV_DEFAULT_MARGIN
    if revenue and abs(costed - revenue) < MONEY_EPSILON:
        margin = (costed - float(activity["cost"])) / revenue
    years = period.days / DAYS_PER_YEAR
    aov = revenue / orders
    frequency = orders / customers / years
    lifespan = settings.CLV_EXPECTED_LIFESPAN_YEARS
    return Estimate(
        value=aov * frequency * lifespan * margin,
        n=customers,
        components={
            "average_order_value": aov,
            "purchases_per_year": frequency,
            "expected_lifespan_years": lifespan,
            "margin": margin,
            "currency": settings.DEFAULT_CURRENCY,
        },
    )


def _customer_metric(
    name: str,
    label: str | Promise,
    figure: Callable[[CustomerFigures, Period], Estimate],
    *,
    unit: str = "percent",
    kind: str = SHARE,
    higher_is_better: bool = True,
) -> MetricDefinition:
    return MetricDefinition(
        name=name,
        label=label,
        unit=unit,
        kind=kind,
        higher_is_better=higher_is_better,
        from_customer_figures=figure,
    )


DEFINITIONS = [
    _customer_metric("repeat_purchase_rate", _("Repeat purchase rate"), repeat_purchase_rate),
    _customer_metric("churn_rate", _("Churn rate"), churn_rate, higher_is_better=False),
    _customer_metric("retention_rate", _("Retention rate"), retention_rate),
    _customer_metric(
        "clv_historical",
        _("Historical CLV, revenue per customer"),
        historical_clv,
        unit="currency",
        kind=MEAN,
    ),
    _customer_metric(
        "clv_simple",
        _("Simple CLV: AOV x frequency x lifespan x margin"),
        simple_clv,
        unit="currency",
        kind=MEAN,
    ),
]
