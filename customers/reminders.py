"""Which purchases are due a reminder on a day, and creating those Reminder rows once.

A term (warranty, support contract, subscription) that ends on day E gets a reminder on
E - lead for every lead time of its kind: the site's (settings.REMINDER_LEAD_DAYS) or its
product category's override. The unique constraint (purchase, kind, due_on) makes creation
idempotent however many times and by however many workers the job runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from customers.models import ProductCategory, Purchase, Reminder

# Which purchase date each kind of reminder counts down to.
END_FIELD_BY_KIND: dict[str, str] = {
    Reminder.Kind.WARRANTY: "warranty_ends_on",
    Reminder.Kind.SUPPORT: "support_ends_on",
    Reminder.Kind.RENEWAL: "subscription_ends_on",
}


def lead_days_for(kind: str, override: Mapping[str, list[int]] | None = None) -> frozenset[int]:
    """The lead times of `kind`: the category's override when it names the kind, else the site's."""
    if override and kind in override:
        return frozenset(override[kind])
    return frozenset(settings.REMINDER_LEAD_DAYS.get(kind, ()))


def _candidate_leads(kind: str, overrides: list[Any]) -> frozenset[int]:
    """Every lead time of `kind` some category (or the site) uses: what the query must cover."""
    leads = set(lead_days_for(kind))
    for override in overrides:
        if isinstance(override, Mapping) and kind in override:
            leads.update(override[kind])
    return frozenset(leads)


def due_reminders(*, on: dt.date) -> list[Reminder]:
    """Unsaved reminders due on `on`: one per purchase, kind and matching lead time.

    Only completed purchases of customers who were not anonymised count; refunded and
    cancelled ones have no term left to remind of.
    """
    reminders: list[Reminder] = []
    overrides = list(
        ProductCategory.objects.filter(reminder_lead_days__isnull=False).values_list(
            "reminder_lead_days", flat=True
        )
    )
    for kind, end_field in END_FIELD_BY_KIND.items():
        leads = _candidate_leads(kind, overrides)
        if not leads:
            continue
        ends = [on + dt.timedelta(days=lead) for lead in sorted(leads)]
        purchases = (
            Purchase.objects.filter(
                status=Purchase.Status.COMPLETED,
                customer__anonymised_at__isnull=True,
                **{f"{end_field}__in": ends},
            )
            .select_related("customer", "product__category")
            .only(
                "id",
                end_field,
                "customer__id",
                "customer__preferred_channel",
                "product__id",
                "product__category__id",
                "product__category__reminder_lead_days",
            )
            .order_by("id")
        )
        for purchase in purchases.iterator(chunk_size=2000):
            ends_on: dt.date = getattr(purchase, end_field)
            category = purchase.product.category if purchase.product else None
            override = category.reminder_lead_days if category else None
            if (ends_on - on).days not in lead_days_for(kind, override):
                continue
            reminders.append(
                Reminder(
                    customer_id=purchase.customer_id,
                    purchase_id=purchase.pk,
                    kind=kind,
                    due_on=on,
                    ends_on=ends_on,
                    channel=purchase.customer.preferred_channel,
                )
            )
    return reminders


@dataclass(frozen=True)
class CreatedReminders:
    """What one run of the reminders job did for a day."""

    day: dt.date
    due: int
    created: int
    pending_ids: list[int] = field(default_factory=list)


# Namespace of the advisory lock that lets one run per day count what it created.
ADVISORY_LOCK_NAMESPACE = 7_001


def _serialise_runs_for(day: dt.date) -> None:
    """Make concurrent runs for the same day take turns (PostgreSQL; SQLite writers queue).

    Correctness does not depend on it (the unique constraint does that); it keeps the
    `created` count of each run honest and spares the second run the conflicting inserts.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, day.toordinal()]
            )


@transaction.atomic
def create_due_reminders(*, on: dt.date) -> CreatedReminders:
    """Create the reminders due on `on` once; return counts and the ids still to send.

    Conflicting rows (an earlier run, a concurrent worker) are ignored by the database, so
    running this twice or in parallel never creates a reminder twice.
    """
    _serialise_runs_for(on)
    candidates = due_reminders(on=on)
    before = Reminder.objects.filter(due_on=on).count()
    Reminder.objects.bulk_create(candidates, batch_size=1000, ignore_conflicts=True)
    after = Reminder.objects.filter(due_on=on).count()
    pending_ids = list(
        Reminder.objects.filter(due_on=on, delivery_status=Reminder.DeliveryStatus.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return CreatedReminders(
        day=on, due=len(candidates), created=after - before, pending_ids=pending_ids
    )
