"""Signals other apps may listen to without the customers app knowing them.

`rows_written` is sent by code that writes rows without `Model.save()` or `delete()`
(bulk_create, bulk_update, COPY), inside its transaction, with `sender` the model, `rows` the
rows written as {attname: value} mappings and `using` the database alias. Model signals do not
fire for those writes; whatever keeps data derived from the rows (the metrics' daily rollups)
listens here instead. Any app that writes in bulk sends it. `counts_unchanged=True` says the
rows were updated in place, none added, removed or moved to another customer: what counts a
customer's rows (customers.tallies) has nothing to do.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Model
from django.dispatch import Signal

rows_written = Signal()


def send_rows_written(
    model: type[Model],
    rows: Iterable[Mapping[str, Any]],
    *,
    using: str = "default",
    counts_unchanged: bool = False,
) -> None:
    """Tell listeners about rows written in bulk (call inside the writing transaction).
    `rows` is only walked when something listens for the model."""
    if not rows_written.has_listeners(model):
        return
    written = list(rows)
    if written:
        rows_written.send(
            sender=model, rows=written, using=using, counts_unchanged=counts_unchanged
        )


def instance_rows(instances: Iterable[Model]) -> list[Mapping[str, Any]]:
    """Saved instances as the {attname: value} rows `rows_written` carries."""
    return [instance.__dict__ for instance in instances]


# A customer was merged into another (customers.merge.merge_customers), sent inside the merge's
# transaction. Arguments: survivor_id, merged_id, actor_id.
customers_merged = Signal()
