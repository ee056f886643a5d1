"""Purchases written in bulk: the one service every bulk writer of purchases calls.

The API's `POST /api/v1/purchases/bulk/`, `import_purchases` (CSV) and the demo data all
write their purchase lines here. `bulk_create` passes by `Purchase.save()` and its signals,
so this service does what `save()` would (the service terms from the product, the co-purchase
counts of customers.co_purchases) and sends
`customers.signals.rows_written` in the writing transaction; whatever keeps data derived
from purchases (the metrics' per-customer-day summary) listens to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from customers.co_purchases import count_new_purchases
from customers.models import Purchase
from customers.signals import instance_rows, send_rows_written


@transaction.atomic
def write_purchases(*, purchases: Iterable[Purchase]) -> list[Purchase]:
    """Insert these unsaved purchases with one bulk_create, derive their terms and tell the
    listeners of `rows_written` (the dashboard's purchase summary) in the same transaction."""
    lines = list(purchases)
    for purchase in lines:
        # bulk_create skips save(): the service terms are derived here, as save() would.
        purchase.derive_end_dates()
    created = Purchase.objects.bulk_create(lines)
    count_new_purchases([purchase.pk for purchase in created])
    send_rows_written(Purchase, instance_rows(created))
    return created
