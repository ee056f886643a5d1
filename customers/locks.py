"""The lock that serialises the writers of one customer's history."""

from __future__ import annotations

from collections.abc import Iterable

from customers.models import Customer


def lock_customers(customer_ids: Iterable[int]) -> list[int]:
    """Serialise the writers of these customers' history until the transaction ends; the ids
    of those that exist, sorted.

    What is kept of a history (the purchase summaries, the tallies) is rebuilt by each writer
    from what it sees, so a second writer must see the first's committed rows (else both
    insert a customer's rows: a unique violation, or totals that miss a line). The customers'
    rows, in id order (no two writers wait on each other), FOR NO KEY UPDATE: it does not wait
    for the key-share locks that inserting a row with a foreign key to the customer takes, so
    a writer holding one never waits on another writer's. PostgreSQL; SQLite serialises
    writers already."""
    ids = sorted(set(customer_ids))
    return list(
        Customer.objects.select_for_update(no_key=True)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
