"""The purchase history summarised per customer and local day, for the customer-base metrics.

Churn, retention, repeat purchases and historical CLV are per-customer questions ("was this
customer active at the start?", "did they buy on two days of the period?"). Grouping the whole
purchase history by customer answers them, at a cost linear in the purchases with a hash of
every customer (seconds at five million purchases). `PurchaseDay` keeps one row per customer
and day with the customer's previous and next purchase day and running totals; each question
then becomes a count of rows in a range of days, with no grouping:

- customer at an instant t (bought within the inactivity window W before it): their last day
  before t lies in [t - W, t), i.e. a row with `t - W <= day < t` whose `next_day` is none or
  on/after t; one such row per customer;
- buying in the period [s, e): the row of their first day in it, `previous_day` none or before s;
  buying on one day only: that row with `next_day` none or on/after e (repeaters are the rest);
- lost in the period (a customer at s with no purchase in [e - W, e)), for periods no longer
  than W: their last day before s lies in [s - W, e - W) and their next day is none or after e;
- revenue to the end of the period: `revenue_to_date` of their last row before e.

Customers whose purchases in the window carry a subscription end (lost also when a
subscription lapses unrenewed) are left to the grouped query of
`metrics.definitions.customer_base`, and so is every period longer than the window and a
product-category filter (a day mixes categories). The rows are derived data: `build()`
recomputes them for some customers (or all), in SQL with window functions;
`metrics.purchase_days_upkeep` keeps them current on every purchase and product cost write.

The figures themselves are sums over the rows' points (`metrics.customer_rollup`), read from
the daily rollup of these rows for the days it covers (`metrics.customer_figures`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from customers.models import Purchase
from metrics.models import PurchaseDay, PurchaseDaysBuild
from metrics.periods import MetricFilters, Period

COLUMNS = (
    "customer_id",
    "day",
    "previous_day",
    "second_previous_day",
    "next_day",
    "lines",
    "revenue",
    "costed_revenue",
    "known_cost",
    "subscription_ends_on",
    "revenue_to_date",
    "margin_to_date",
    "first_costed",
)


def _days(customer_ids: list[int] | None) -> QuerySet[Any]:
    """Completed purchases per customer and local day (the site's time zone)."""
    costed = Q(product__cost__isnull=False)
    line_cost = F("product__cost") * F("quantity")
    purchases = Purchase.objects.filter(status=Purchase.Status.COMPLETED)
    if customer_ids is not None:
        purchases = purchases.filter(customer_id__in=customer_ids)
    return (
        purchases.annotate(
            local_day=TruncDate("purchased_at", tzinfo=timezone.get_default_timezone())
        )
        .values("customer_id", "local_day")
        .annotate(
            day_lines=Count("pk"),
            day_revenue=Sum("amount"),
            day_costed_revenue=Sum("amount", filter=costed),
            day_cost=Sum(line_cost, filter=costed),
            day_margin=Sum(F("amount") - line_cost, filter=costed),
            day_subscription=Max("subscription_ends_on"),
        )
        .order_by()
    )


def _insert(customer_ids: list[int] | None) -> None:
    """INSERT ... SELECT the rows of these customers (all when None): the day aggregates,
    with the neighbouring days and running totals from window functions."""
    inner, params = _days(customer_ids).query.sql_with_params()
    table = connection.ops.quote_name(PurchaseDay._meta.db_table)
    window = "OVER (PARTITION BY d.customer_id ORDER BY d.local_day)"
    sql = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) "
        "SELECT d.customer_id, d.local_day, "
        f"LAG(d.local_day) {window}, LAG(d.local_day, 2) {window}, LEAD(d.local_day) {window}, "
        "d.day_lines, d.day_revenue, COALESCE(d.day_costed_revenue, 0), d.day_cost, "
        f"d.day_subscription, SUM(d.day_revenue) {window}, SUM(d.day_margin) {window}, "
        # The first day with a costed line: costed, and no costed day before it.
        f"CASE WHEN d.day_margin IS NOT NULL AND COUNT(d.day_margin) {window} = 1 "
        "THEN 1 ELSE 0 END = 1 "
        f"FROM ({inner}) d"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def build(customer_ids: list[int]) -> None:
    """Recompute the rows of these customers (call inside a transaction)."""
    PurchaseDay.objects.filter(customer_id__in=customer_ids).delete()
    _insert(customer_ids)


def build_all() -> None:
    """Recompute every row and mark the build current for the site's time zone (call inside
    a transaction)."""
    PurchaseDay.objects.all().delete()
    _insert(None)
    PurchaseDaysBuild.objects.all().delete()
    PurchaseDaysBuild.objects.create(time_zone=settings.TIME_ZONE)


def is_current() -> bool:
    """Whether the rows were built whole in the site's present time zone."""
    return PurchaseDaysBuild.objects.filter(time_zone=settings.TIME_ZONE).exists()


def _exclusive_end(period: Period) -> dt.date:
    return period.end + dt.timedelta(days=1)


def applies(filters: MetricFilters, periods: list[Period], window_days: int) -> bool:
    """Whether these figures can come from the rows (see the module's docstring)."""
    return (
        filters.category_id is None
        and all(period.days <= window_days for period in periods)
        and is_current()
    )


def rows(filters: MetricFilters) -> QuerySet[PurchaseDay]:
    rows = PurchaseDay.objects.all()
    if filters.segment:
        rows = rows.filter(customer__segment=filters.segment)
    return rows


def subscribers(filters: MetricFilters, periods: list[Period], window_days: int) -> QuerySet[Any]:
    """Customers with a subscription end on a purchase within some period's window: the
    grouped query answers for them (a lapsed subscription loses a customer)."""
    window = dt.timedelta(days=window_days)
    return (
        rows(filters)
        .filter(
            subscription_ends_on__isnull=False,
            day__gte=min(period.start for period in periods) - window,
            day__lt=max(_exclusive_end(period) for period in periods),
        )
        .values("customer_id")
    )
