"""Keeps `CustomerTally`: how many purchase lines and interactions each customer has, the
"all N" the card shows beside its purchase and timeline lists.

The card counted them with each list's rows (`selectors.CountOf`): 0.65 ms for a customer
with 10,000 interactions against 0.2 ms for one with two, 0.4 ms for 2,000 purchase lines;
read from the tally, a list costs the same whatever the history.

- Purchase lines are recounted with the rest of what is kept of a customer's purchases
  (`customers.values.build`, in the transaction of every purchase write).
- Interactions: a new one's save recounts its customer, a save that moved one recounts both
  customers (an update that stays with its customer changes no count), every deletion takes
  one off, and `rows_written` (bulk writers, the telephony upsert, merges)
  recounts the customers of the rows; connected from CustomersConfig.ready().

Every change takes the customer's lock (`locks.lock_customers`) first, so two writers at once count
one after the other. A recount counts the rows; it also mends a tally that something writing
behind Django's back (SQL without `rows_written`) left wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.apps import apps as registry
from django.db import connections, transaction
from django.db.models import F, Model
from django.db.models.signals import post_delete, post_save

from customers.locks import lock_customers
from customers.models import CustomerTally, Interaction
from customers.signals import rows_written

# Each tally's field and the model whose rows it counts.
COUNTED: dict[str, str] = {"purchases": "Purchase", "interactions": "Interaction"}


def _upsert(
    fields: Sequence[str],
    customer_ids: Sequence[int] | None,
    *,
    get_model: Callable[[str, str], type[Model]] = registry.get_model,
    using: str = "default",
) -> None:
    """One statement: the `fields` of these customers' tallies (of every customer with rows
    or a tally, when None) counted from the rows, a tally made where there is none (with all
    its counts, so that a new tally is whole whichever field was asked for)."""
    connection = connections[using]
    quote = connection.ops.quote_name

    def table(name: str) -> str:
        return quote(get_model("customers", name)._meta.db_table)

    counts = {
        field: f"(SELECT COUNT(*) FROM {table(model)} r WHERE r.customer_id = c.id)"
        for field, model in COUNTED.items()
    }
    if customer_ids is not None:
        where = f"c.id IN ({', '.join(['%s'] * len(customer_ids))})"
        params: list[Any] = list(customer_ids)
    else:
        having = " UNION ".join(
            [f"SELECT customer_id FROM {table(model)}" for model in COUNTED.values()]
            + [f"SELECT customer_id FROM {table('CustomerTally')}"]
        )
        where, params = f"c.id IN ({having})", []
    columns = ", ".join(quote(field) for field in counts)
    updated = ", ".join(f"{quote(field)} = excluded.{quote(field)}" for field in fields)
    sql = (
        f"INSERT INTO {table('CustomerTally')} ({quote('customer_id')}, {columns}) "
        f"SELECT c.id, {', '.join(counts.values())} FROM {table('Customer')} c WHERE {where} "
        f"ON CONFLICT ({quote('customer_id')}) DO UPDATE SET {updated}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# Customers recounted per statement (keeps IN lists well under SQLite's variable limit).
RECOUNT_BATCH = 500


@transaction.atomic(savepoint=False)
def recount(field: str, customer_ids: Iterable[int], *, locked: bool = False) -> None:
    """Count the `field` rows of these customers again, in the writing transaction (in one of
    its own after a write in autocommit: the locks need one); `locked`: the caller holds
    their locks already, and they all exist."""
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), RECOUNT_BATCH):
        batch = ids[start : start + RECOUNT_BATCH]
        found = batch if locked else lock_customers(batch)
        if found:
            _upsert([field], found)


def recount_all(field: str) -> None:
    """Every customer's `field` tally counted again (call inside a transaction)."""
    _upsert([field], None)


def recount_all_in_migration(apps: Any, schema_editor: Any) -> None:
    """The tallies of every customer (migration 0012), with its models."""
    _upsert(list(COUNTED), None, get_model=apps.get_model, using=schema_editor.connection.alias)


# --- Interactions --------------------------------------------------------------------------


def _interaction_saved(
    sender: Any, instance: Interaction, created: bool = False, **kwargs: Any
) -> None:
    left = instance._loaded_customer_id
    if created or instance.customer_id != left:
        whose = {instance.customer_id, left} - {None}
        if whose:
            recount("interactions", whose)  # type: ignore[arg-type]
    # An update that stays with its customer changes no count.
    instance._loaded_customer_id = instance.customer_id


def _interaction_deleted(sender: Any, instance: Interaction, **kwargs: Any) -> None:
    customer_id = instance.customer_id
    if customer_id is None:
        return
    with transaction.atomic(savepoint=False):
        if lock_customers([customer_id]):
            CustomerTally.objects.filter(customer_id=customer_id, interactions__gt=0).update(
                interactions=F("interactions") - 1
            )


def _interactions_written(
    sender: Any, rows: Sequence[Mapping[str, Any]], counts_unchanged: bool = False, **kwargs: Any
) -> None:
    if not counts_unchanged:
        recount("interactions", {row["customer_id"] for row in rows} - {None})


def connect() -> None:
    """Keep the interactions' tally on every write; called from CustomersConfig.ready()."""
    post_save.connect(_interaction_saved, sender=Interaction, dispatch_uid="tally_interaction")
    post_delete.connect(
        _interaction_deleted, sender=Interaction, dispatch_uid="tally_interaction_del"
    )
    rows_written.connect(
        _interactions_written, sender=Interaction, dispatch_uid="tally_interactions_bulk"
    )
