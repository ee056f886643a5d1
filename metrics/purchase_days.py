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
  longer periods (up to `longest_period_days`) add those who bought in [s, e - W) and again
  in [e - W, e) back (`corrections`);
- a subscription that ended unrenewed (lost, and not at the end): their last row before e
  in [e - W, e) with `subscription_max_to_date`, the latest subscription end of all their
  days to that one, in the period (`corrections`);
- revenue to the end of the period: `revenue_to_date` of their last row before e.

A product-category filter (a day mixes categories) and a period longer than
`longest_period_days` are left to the grouped query of `metrics.definitions.customer_base`.
The rows are derived data: `build()` recomputes them for some customers (or all), in SQL
with window functions; `metrics.purchase_days_upkeep` keeps them current on every purchase
and product cost write.

The figures themselves are sums over the rows' points (`metrics.customer_rollup`), read from
the daily rollup of these rows for the days it covers (`metrics.customer_figures`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Sum
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
    "subscription_max_to_date",
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
        f"d.day_subscription, MAX(d.day_subscription) {window}, "
        f"SUM(d.day_revenue) {window}, SUM(d.day_margin) {window}, "
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


def longest_period_days(window_days: int) -> int:
    """The longest period the rows answer: a year and a day (a leap year) or the window and
    a day, whichever is longer (`metrics.customer_rollup.reach_days` keeps the points that
    far apart)."""
    return max(window_days, 365) + 1


def applies(filters: MetricFilters, periods: list[Period], window_days: int) -> bool:
    """Whether these figures can come from the rows (see the module's docstring)."""
    return (
        filters.category_id is None
        and all(period.days <= longest_period_days(window_days) for period in periods)
        and is_current()
    )


def rows(filters: MetricFilters) -> QuerySet[PurchaseDay]:
    rows = PurchaseDay.objects.all()
    if filters.segment:
        rows = rows.filter(customer__segment=filters.segment)
    return rows


def _in(field: str, start: dt.date, end: dt.date) -> Q:
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def _has_day_in(start: dt.date, end: dt.date, *, two_back: bool = False) -> Q:
    """The row's customer has a purchase day in [start, end), for a row on or after `end`:
    its previous day tells unless that lies between `end` and the row (then one index
    probe). With `two_back` the day before that tells too, where the previous one does not
    (the days between the two are none): the probe is left to customers with three days
    from `end` on (76,421 probes became 32,570 for the lapses of a year at a million
    customers); the rows read must carry `second_previous_day` then."""
    probe = Exists(
        PurchaseDay.objects.filter(customer_id=OuterRef("customer_id")).filter(
            _in("day", start, end)
        )
    )
    if not two_back:
        return _in("previous_day", start, end) | Q(Q(previous_day__gte=end), probe)
    return _in("previous_day", start, end) | Q(
        Q(previous_day__gte=end),
        _in("second_previous_day", start, end) | Q(Q(second_previous_day__gte=end), probe),
    )


def corrections(
    filters: MetricFilters, periods: list[Period], window_days: int
) -> list[dict[str, int]]:
    """Per period, what the points of `metrics.customer_rollup` leave to the rows, as signed
    amounts to add to its totals (one query, two when a period is longer than the window):

    - a subscription that ended unrenewed: a customer active at the end (a day in
      [e - W, e)) whose latest subscription end to date falls in the period is not at the
      end, and lost if they were at the start. Their last row before e says both: its day in
      [e - W, e), its `subscription_max_to_date` in the period (one such row per customer).
    - for a period longer than the window, the customers at the start who bought between
      its start and e - W and again in [e - W, e) are not lost: their last row before
      e - W, with its next day in [e - W, e) (one per customer), and a day in [s - W, s).

    Rows are probed by index only where their previous day does not tell.
    """
    window = dt.timedelta(days=window_days)
    lapse: dict[str, Any] = {}
    continuing: dict[str, Any] = {}
    # The rows read: each period's [e - W, e), and [s, e - W) where the period is longer.
    lapse_days, continuing_days = Q(pk__in=[]), Q(pk__in=[])
    for i, period in enumerate(periods):
        s, e = period.start, _exclusive_end(period)
        at_end_row = (
            _in("day", e - window, e)
            & (Q(next_day__isnull=True) | Q(next_day__gte=e))
            & Q(subscription_max_to_date__gte=s, subscription_max_to_date__lt=e)
        )
        at_start = Q(day__lt=s) | _has_day_in(s - window, s, two_back=True)
        lapse[f"at_end{i}"] = Count("day", filter=at_end_row)
        lapse[f"lost{i}"] = Count("day", filter=at_end_row & at_start)
        lapse_days |= _in("day", e - window, e)
        if e - window > s:
            continuing_days |= _in("day", s, e - window)
            continuing[f"lost{i}"] = Count(
                "pk",
                filter=_in("day", s, e - window)
                & _in("next_day", e - window, e)
                & _has_day_in(s - window, s),
            )
    subscribers = rows(filters).filter(lapse_days, subscription_max_to_date__isnull=False)
    found = subscribers.aggregate(**lapse)
    kept = rows(filters).filter(continuing_days).aggregate(**continuing) if continuing else {}
    return [
        {
            "at_end": -found[f"at_end{i}"],
            "lost": found[f"lost{i}"] - (kept.get(f"lost{i}") or 0),
        }
        for i in range(len(periods))
    ]
