"""Keeps `CustomerValue`: each customer's completed purchases summed per currency, the card's
value to date (`customers.selectors.historical_value`).

The card read the value with one aggregate over all the customer's purchases on every open:
2.6 ms for a customer with 2,000 purchases against 0.2 ms for one with four, the largest part
of what a long history added to a card. The sums are kept instead, rebuilt per customer with
one INSERT ... SELECT of the same aggregates (`selectors.value_aggregates`):

- in the transaction of every write to a customer's purchases and of every change of a
  product's cost (its buyers' margin): `metrics.purchase_days_upkeep.rebuild` is where every
  such write already arrives (model signals, and `rows_written` from bulk writers, imports
  and merges), and it rebuilds these rows with the per-day summary;
- whole, with that summary, by the `purchase_days` job when the site's time zone changed
  (orders are purchase days there) and by `python manage.py purchase_days rebuild`.

A merge does not move the rows (`merge.register_derived`): the merge's `rows_written` of the
moved purchases rebuilds the survivor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import CharField, Model, Value

from customers.models import CustomerValue, Purchase
from customers.selectors import value_aggregates

# The kept columns, in the order the INSERT writes them (the aggregates' names).
COLUMNS = (
    "customer_id",
    "currency",
    "revenue",
    "purchases",
    "orders",
    "last_purchase_at",
    "first_purchase_at",
    "margin",
    "margin_purchases",
    "time_zone",
)


def _insert(
    customer_ids: Sequence[int] | None,
    *,
    purchase: type[Model] = Purchase,
    value: type[Model] = CustomerValue,
    using: str = "default",
) -> None:
    """INSERT ... SELECT the rows of these customers (everyone's when None). The models may
    be a migration's (`build_all_in_migration`)."""
    purchases = purchase._default_manager.using(using).filter(
        status=Purchase.Status.COMPLETED.value
    )
    if customer_ids is not None:
        purchases = purchases.filter(customer_id__in=list(customer_ids))
    sums = (
        purchases.values("customer_id", "currency")
        .annotate(
            **value_aggregates(), time_zone=Value(settings.TIME_ZONE, output_field=CharField())
        )
        .order_by()
    )
    inner, params = sums.query.sql_with_params()
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in COLUMNS)
    picked = ", ".join(f"v.{quote(column)}" for column in COLUMNS)
    sql = f"INSERT INTO {quote(value._meta.db_table)} ({columns}) SELECT {picked} FROM ({inner}) v"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def build(customer_ids: Sequence[int]) -> None:
    """Recompute the rows of these customers (call inside the writing transaction)."""
    CustomerValue.objects.filter(customer_id__in=list(customer_ids)).delete()
    _insert(customer_ids)


def build_all() -> None:
    """Recompute every customer's rows (call inside a transaction)."""
    CustomerValue.objects.all().delete()
    _insert(None)


def build_all_in_migration(apps: Any, schema_editor: Any) -> None:
    """The rows of every customer who bought before the table existed (migration 0011)."""
    _insert(
        None,
        purchase=apps.get_model("customers", "Purchase"),
        value=apps.get_model("customers", "CustomerValue"),
        using=schema_editor.connection.alias,
    )
