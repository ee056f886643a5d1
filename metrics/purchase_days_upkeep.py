"""Keeps the per-customer-day purchase summary (`metrics.purchase_days`) and the card's value
to date (`customers.values`) current, in the transaction of every write to a customer's
purchases and of every product cost change, and
uncovers the rolled-up days (`metrics.customer_rollup`) whose points the rebuild changed: a
new purchase today changes none. Connected from MetricsConfig.ready(); bulk writers send
`customers.signals.rows_written` (`customers.purchases.write_purchases`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from customers import values
from customers.locks import lock_customers
from customers.models import Product, Purchase
from customers.signals import rows_written
from metrics import answer_cache, customer_rollup, purchase_days, rollup_days

# Customers rebuilt per statement (keeps IN lists well under SQLite's variable limit).
REBUILD_BATCH = 500


def rebuild(customer_ids: Iterable[int] | None = None) -> None:
    """Recompute the summary rows of these customers, or of everyone (and mark the build
    current for the site's time zone), and their kept value to date (`customers.values`).
    Atomic: readers never see a customer half rebuilt. The rolled-up days whose points
    changed are uncovered in the same transaction, and the metrics API's cached answers
    dropped when it commits. The days are bumped once, sorted, at the
    end (rollup_days.deferred_invalidation): per batch of customers, two rebuilds at once
    locked them in opposite orders and deadlocked. Each batch's customers are locked first
    (`customers.locks.lock_customers`): two writers of one customer's purchases at once each deleted
    and inserted that customer's rows, and the second's inserts failed on the first's."""
    with transaction.atomic(), rollup_days.deferred_invalidation():
        answer_cache.data_changed()
        if customer_ids is None:
            first = customer_rollup.earliest_day()
            purchase_days.build_all()
            values.build_all()
            now_first = customer_rollup.earliest_day()
            known = [day for day in (first, now_first) if day is not None]
            customer_rollup.invalidate_from(min(known) if known else None)
            return
        ids = sorted(set(customer_ids))
        for start in range(0, len(ids), REBUILD_BATCH):
            batch = ids[start : start + REBUILD_BATCH]
            found = lock_customers(batch)
            before = customer_rollup.signatures(batch)
            purchase_days.build(batch)
            values.build(found)
            customer_rollup.invalidate_changed(before, customer_rollup.signatures(batch))


def _previous_customer(sender: Any, instance: Purchase, **kwargs: Any) -> None:
    """Remember whose a purchase was before this save (a purchase moved to another
    customer changes both customers' days)."""
    instance._purchase_days_customer = (  # type: ignore[attr-defined]
        Purchase.objects.filter(pk=instance.pk).values_list("customer_id", flat=True).first()
        if instance.pk
        else None
    )


def _purchase_saved(sender: Any, instance: Purchase, **kwargs: Any) -> None:
    before = getattr(instance, "_purchase_days_customer", None)
    rebuild({instance.customer_id} | ({before} if before else set()))


def _purchase_deleted(sender: Any, instance: Purchase, **kwargs: Any) -> None:
    rebuild([instance.customer_id])


def _previous_cost(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._purchase_days_cost = (
        type(instance).objects.filter(pk=instance.pk).values_list("cost", flat=True).first()
        if instance.pk
        else None
    )


def _product_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A product's cost is in its buyers' known cost and margin."""
    if created or getattr(instance, "_purchase_days_cost", None) == instance.cost:
        return
    rebuild(Purchase.objects.filter(product=instance).values_list("customer_id", flat=True))


def _purchases_written(sender: Any, rows: list[Mapping[str, Any]], **kwargs: Any) -> None:
    """customers.signals.rows_written of purchases (bulk writers): their customers' rows."""
    rebuild({row["customer_id"] for row in rows})


def connect() -> None:
    """Rebuild a customer's rows in the transaction of every write to their purchases (and of
    every product cost change); called from MetricsConfig.ready()."""
    pre_save.connect(_previous_customer, sender=Purchase, dispatch_uid="purchase_days_pre")
    post_save.connect(_purchase_saved, sender=Purchase, dispatch_uid="purchase_days_save")
    post_delete.connect(_purchase_deleted, sender=Purchase, dispatch_uid="purchase_days_del")
    pre_save.connect(_previous_cost, sender=Product, dispatch_uid="purchase_days_product_pre")
    post_save.connect(_product_saved, sender=Product, dispatch_uid="purchase_days_product")
    rows_written.connect(_purchases_written, sender=Purchase, dispatch_uid="purchase_days_bulk")
