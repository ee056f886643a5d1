"""Co-purchase counts: for each pair of products, how many distinct customers bought both.

The card's "customers who bought X also bought Z" reads `ProductCoPurchase` with one indexed
query instead of joining purchases per card. The counts follow completed purchases with a
product:

- a new purchase (every `Purchase.save()` that inserts, and `write_purchases` for bulk writers)
  adds one customer to each pair it makes with the customer's other products, only when the
  customer did not own the product already (`count_new_purchases`);
- what cannot be followed by increments (a purchase changed, refunded or deleted, a merge, a
  bulk import) marks the table stale (`mark_stale`); the `co_purchases` job (beat, every few
  minutes) rebuilds it in SQL when stale, and `python manage.py rebuild_co_purchases` does so
  by hand. A database that never had a rebuild counts as stale.

A rebuild takes a lock that purchase writes' increments wait for, so an increment is either in
the rebuild's snapshot or applied after it, never lost or counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from customers.locks import lock_customers
from customers.models import CoPurchaseState, ProductCoPurchase, Purchase
from customers.selectors import among, fixed_rows

_STATE_ID = 1


def _tables() -> dict[str, str]:
    return {
        "pairs": ProductCoPurchase._meta.db_table,
        "purchase": Purchase._meta.db_table,
        "completed": Purchase.Status.COMPLETED.value,
    }


def _lock_pairs() -> None:
    """Serialise with a rebuild (PostgreSQL; SQLite writes are serialised already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {_tables()['pairs']} IN ROW EXCLUSIVE MODE")


@transaction.atomic
def count_new_purchases(purchase_ids: Sequence[int]) -> None:
    """Add the customers of these just-inserted purchases to their new product pairs.

    Call inside the writing transaction (its own, when a purchase was saved in autocommit:
    the row locks below need one). A product the customer already owned (another
    completed purchase) adds nothing; pairs of two new products count the customer once."""
    if not purchase_ids:
        return
    customer_ids = sorted(
        set(
            Purchase.objects.filter(
                pk__in=purchase_ids, status=Purchase.Status.COMPLETED, product__isnull=False
            ).values_list("customer_id", flat=True)
        )
    )
    if not customer_ids:
        return
    # Two writers adding the same product for the same customer would each see the product as
    # new: the customer's row serialises them (`lock_customers`: in id order, and not against
    # the key-share locks their purchases' inserts hold, which deadlocked two writers).
    lock_customers(customer_ids)
    _lock_pairs()
    names = _tables()
    ids = ", ".join(["%s"] * len(purchase_ids))
    customers = ", ".join(["%s"] * len(customer_ids))
    sql = f"""
        WITH added AS (
            SELECT DISTINCT n.customer_id, n.product_id
            FROM {names["purchase"]} n
            WHERE n.id IN ({ids}) AND n.status = %s AND n.product_id IS NOT NULL
              AND NOT EXISTS (
                SELECT 1 FROM {names["purchase"]} o
                WHERE o.customer_id = n.customer_id AND o.product_id = n.product_id
                  AND o.status = %s AND o.id NOT IN ({ids})
              )
        ),
        owned AS (
            SELECT DISTINCT customer_id, product_id FROM {names["purchase"]}
            WHERE customer_id IN ({customers}) AND status = %s AND product_id IS NOT NULL
        ),
        pairs AS (
            SELECT a.product_id AS one, o.product_id AS two, a.customer_id
            FROM added a JOIN owned o
              ON o.customer_id = a.customer_id AND o.product_id <> a.product_id
            UNION
            SELECT o.product_id, a.product_id, a.customer_id
            FROM added a JOIN owned o
              ON o.customer_id = a.customer_id AND o.product_id <> a.product_id
        )
        INSERT INTO {names["pairs"]} (product_id, other_product_id, customers)
        SELECT one, two, COUNT(*) FROM pairs WHERE true GROUP BY one, two
        ON CONFLICT (product_id, other_product_id)
        DO UPDATE SET customers = {names["pairs"]}.customers + excluded.customers
    """
    completed = names["completed"]
    params: list[Any] = [*purchase_ids, completed, completed, *purchase_ids]
    params += [*customer_ids, completed]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def mark_stale() -> None:
    """Note that the counts need a rebuild (a write increments cannot follow)."""
    updated = CoPurchaseState.objects.filter(pk=_STATE_ID, stale_since__isnull=True).update(
        stale_since=timezone.now()
    )
    if not updated:
        CoPurchaseState.objects.get_or_create(
            pk=_STATE_ID, defaults={"stale_since": timezone.now()}
        )


def is_stale() -> bool:
    """Whether a rebuild is due (never rebuilt, or marked stale since)."""
    state = CoPurchaseState.objects.filter(pk=_STATE_ID).first()
    return state is None or state.stale_since is not None


@transaction.atomic
def rebuild() -> int:
    """Recount every pair from the purchases in SQL; the number of pair rows written."""
    names = _tables()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Increments (ROW EXCLUSIVE) wait for the rebuild; card reads do not.
            cursor.execute(f"LOCK TABLE {names['pairs']} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {names['pairs']}")
        cursor.execute(
            f"""
            INSERT INTO {names["pairs"]} (product_id, other_product_id, customers)
            SELECT a.product_id, b.product_id, COUNT(*)
            FROM (SELECT DISTINCT customer_id, product_id FROM {names["purchase"]}
                  WHERE status = %s AND product_id IS NOT NULL) a
            JOIN (SELECT DISTINCT customer_id, product_id FROM {names["purchase"]}
                  WHERE status = %s AND product_id IS NOT NULL) b
              ON a.customer_id = b.customer_id AND a.product_id <> b.product_id
            GROUP BY a.product_id, b.product_id
            """,
            [names["completed"], names["completed"]],
        )
        written = cursor.rowcount
    CoPurchaseState.objects.update_or_create(
        pk=_STATE_ID, defaults={"stale_since": None, "rebuilt_at": timezone.now()}
    )
    return written


def rebuild_if_stale() -> bool:
    """The job: rebuild when stale; whether it did."""
    if not is_stale():
        return False
    rebuild()
    return True


def partners(owned_product_ids: Iterable[int], *, min_customers: int, limit: int) -> list[Any]:
    """The strongest co-purchase partners of these products that are not among them:
    rows of (owned product id, partner product id, customers), strongest first."""
    owned = list(owned_product_ids)
    if not owned:
        return []

    def strongest(products: list[int]) -> QuerySet[Any]:
        return (
            ProductCoPurchase.objects.filter(
                among(ProductCoPurchase, "product_id", products), customers__gte=min_customers
            )
            .exclude(among(ProductCoPurchase, "other_product_id", products))
            .order_by("-customers", "other_product_id", "product_id")
            .values_list("product_id", "other_product_id", "customers")[:limit]
        )

    # Compiled once per threshold and limit (settings), whatever the products.
    return fixed_rows(
        "co-purchase partners", strongest, key=(min_customers, limit), values=(owned,)
    )


def _purchase_saved(sender: type[Purchase], instance: Purchase, created: bool, **_: Any) -> None:
    if created:
        if instance.status == Purchase.Status.COMPLETED and instance.product_id is not None:
            count_new_purchases([instance.pk])
    else:
        mark_stale()


def _purchase_deleted(sender: type[Purchase], instance: Purchase, **_: Any) -> None:
    mark_stale()


def connect() -> None:
    """Keep the counts on every single-row purchase write (admin, API, factories); bulk
    writers call `count_new_purchases` or `mark_stale` themselves."""
    post_save.connect(_purchase_saved, sender=Purchase, dispatch_uid="co_purchases_save")
    post_delete.connect(_purchase_deleted, sender=Purchase, dispatch_uid="co_purchases_delete")
