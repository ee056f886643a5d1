"""Keeps what the card reads of a customer's purchase history as rows of their own, so that
the card's time does not grow with the history:

- `ValueToDate`: the completed purchases summed per currency, the card's value to date
  (`customers.selectors.historical_value`);
- `OwnedProduct`: each product of a completed purchase with its last purchase, what the next
  best offers start from (`customers.recommendations`).

Both were aggregates over all of the customer's purchases on every open: 2.6 and 1.1 ms for a
customer with 2,000 purchases against 0.2 ms each for one with four. Both are rebuilt per
customer with one INSERT ... SELECT each of the aggregates the card used to run:

- in the transaction of every write to a customer's purchases and of every change of a
  product's cost (its buyers' margin): `metrics.purchase_days_upkeep.rebuild` is where every
  such write already arrives (model signals, and `rows_written` from bulk writers, imports
  and merges), and it rebuilds these rows with the per-day summary;
- whole, with that summary, by the `purchase_days` job (`python manage.py run_job
  purchase_days`) when the summary is not current: after the site's time zone changed
  (orders are purchase days there).

A merge does not move the rows (`merge.register_derived`): the merge's `rows_written` of the
moved purchases rebuilds the survivor's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.apps import apps as registry
from django.conf import settings
from django.db import connections
from django.db.models import CharField, Max, Model, QuerySet, Value

from customers import tallies
from customers.models import OwnedProduct, Purchase, ValueToDate
from customers.selectors import KEPT_VALUE_FIELDS, value_aggregates


def _value_rows(purchases: QuerySet[Any]) -> QuerySet[Any]:
    return (
        purchases.values("customer_id", "currency")
        .annotate(
            **value_aggregates(), time_zone=Value(settings.TIME_ZONE, output_field=CharField())
        )
        .order_by()
    )


def _owned_rows(purchases: QuerySet[Any]) -> QuerySet[Any]:
    return (
        purchases.filter(product__isnull=False)
        .values("customer_id", "product_id")
        .annotate(last_bought_at=Max("purchased_at"))
        .order_by()
    )


# What is kept: the model and the rows of it that completed purchases make, column by column
# (the names the rows' query gives them).
KEPT: tuple[tuple[str, Callable[[QuerySet[Any]], QuerySet[Any]], tuple[str, ...]], ...] = (
    (
        "ValueToDate",
        _value_rows,
        ("customer_id", *KEPT_VALUE_FIELDS),
    ),
    ("OwnedProduct", _owned_rows, ("customer_id", "product_id", "last_bought_at")),
)


def _insert(
    customer_ids: Sequence[int] | None,
    *,
    get_model: Callable[[str, str], type[Model]],
    using: str = "default",
) -> None:
    """INSERT ... SELECT the kept rows of these customers (everyone's when None). The models
    come from `get_model`: the app registry's, or a migration's (`build_all_in_migration`)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    purchases = (
        get_model("customers", "Purchase")
        ._default_manager.using(using)
        .filter(status=Purchase.Status.COMPLETED.value)
    )
    if customer_ids is not None:
        purchases = purchases.filter(customer_id__in=list(customer_ids))
    for model_name, rows, columns in KEPT:
        inner, params = rows(purchases).query.sql_with_params()
        named = ", ".join(quote(column) for column in columns)
        picked = ", ".join(f"r.{quote(column)}" for column in columns)
        table = quote(get_model("customers", model_name)._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({named}) SELECT {picked} FROM ({inner}) r", params
            )


def build(customer_ids: Sequence[int]) -> None:
    """Recompute the kept rows of these customers, and their purchase lines' tally (call
    inside the writing transaction with these customers, all existing, locked:
    `locks.lock_customers`)."""
    ids = list(customer_ids)
    ValueToDate.objects.filter(customer_id__in=ids).delete()
    OwnedProduct.objects.filter(customer_id__in=ids).delete()
    _insert(ids, get_model=registry.get_model)
    tallies.recount("purchases", ids, locked=True)


def build_all() -> None:
    """Recompute everyone's kept rows (call inside a transaction)."""
    ValueToDate.objects.all().delete()
    OwnedProduct.objects.all().delete()
    _insert(None, get_model=registry.get_model)
    tallies.recount_all("purchases")


def build_all_in_migration(apps: Any, schema_editor: Any) -> None:
    """The rows of every customer who bought before the tables existed (migration 0011)."""
    _insert(None, get_model=apps.get_model, using=schema_editor.connection.alias)
