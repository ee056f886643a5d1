"""Merging a duplicate customer into another: every record moves, the old identity stays an alias.

The records to move are found from the app registry (every foreign key to `Customer`), so the
tickets, survey invitations or any model added later move without `customers` importing the
app that defines them. Apps adjust what a plain move cannot do from their `AppConfig.ready()`:

- `register_merge_step(model, step)`: `step(survivor=, other=)` runs before `model`'s rows move,
  e.g. to settle a unique constraint the move would break;
- `register_derived(model)`: rows computed from others (a per-customer summary); the merge
  deletes the merged customer's rows; `rows_written` of the moved rows has the owner rebuild them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry as AuditLogEntry
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers import co_purchases
from customers.models import ContactPoint, Customer, CustomerAlias
from customers.signals import customers_merged, send_rows_written

MergeStep = Callable[..., None]
_STEPS: dict[type[Model], list[MergeStep]] = {}
_DERIVED: set[type[Model]] = set()

# Texts of the merged customer kept on the survivor when the survivor has none.
FILLED_FROM_OTHER = ("company", "notes", "acquisition_channel", "acquisition_campaign", "time_zone")


def register_merge_step(model: type[Model], step: MergeStep) -> None:
    """Run `step(survivor=, other=)` in the merge's transaction before `model`'s rows move."""
    _STEPS.setdefault(model, []).append(step)


def register_derived(model: type[Model]) -> None:
    """`model`'s rows are rebuilt by their owner after a merge, not moved."""
    _DERIVED.add(model)


def customer_foreign_keys() -> list[tuple[type[Model], str]]:
    """(model, attname) of every foreign key to Customer, found from the app registry."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Customer:
                found.append((model, field.attname))
    return found


@transaction.atomic
def merge_customers(*, survivor: Customer, other: Customer, actor: User) -> Customer:
    """Move every record of `other` to `survivor`, keep `other` as an alias, delete `other`."""
    if survivor.pk == other.pk:
        raise ValidationError({"other": [_("A customer cannot be merged into itself.")]})
    locked = {
        customer.pk: customer
        for customer in Customer.objects.select_for_update()
        .filter(pk__in=[survivor.pk, other.pk])
        .order_by("pk")
    }
    if other.pk not in locked or survivor.pk not in locked:
        raise ValidationError({"other": [_("That customer no longer exists.")]})
    survivor, other = locked[survivor.pk], locked[other.pk]
    if survivor.is_anonymised or other.is_anonymised:
        raise ValidationError({"other": [_("An erased customer cannot be merged.")]})

    _move_contact_points(survivor=survivor, other=other)
    for model, attname in customer_foreign_keys():
        if model in (ContactPoint, CustomerAlias) or model in _DERIVED:
            continue
        for step in _STEPS.get(model, []):
            step(survivor=survivor, other=other)
        rows = model._base_manager.filter(**{attname: other.pk})
        # Listeners (the metrics' summaries and rollups) hear of the rows where they leave
        # and again where they arrive.
        send_rows_written(model, rows.values())
        rows.update(**{attname: survivor.pk})
        send_rows_written(model, model._base_manager.filter(**{attname: survivor.pk}).values())
    for model in _DERIVED:
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Customer:
                model._base_manager.filter(**{field.attname: other.pk}).delete()
    CustomerAlias.objects.filter(customer=other).update(customer=survivor)
    # The other's products join the survivor's: pairs change in ways increments cannot follow.
    co_purchases.mark_stale()
    survivor.tags.add(*other.tags.all())
    for name in FILLED_FROM_OTHER:
        if not getattr(survivor, name) and getattr(other, name):
            setattr(survivor, name, getattr(other, name))
    survivor.customer_since = min(survivor.customer_since, other.customer_since)
    CustomerAlias.objects.create(
        customer=survivor,
        merged_customer_id=other.pk,
        full_name=other.full_name,
        external_id=other.external_id,
        merged_at=timezone.now(),
        merged_by=actor,
    )
    _move_history(survivor=survivor, other=other)
    other_id = other.pk  # delete() forgets it
    with disable_auditlog():
        # The merge entry below says what happened; a "deleted" entry would mislead.
        other.delete()
    survivor.save()
    AuditLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(Customer),
        object_pk=str(survivor.pk),
        object_id=survivor.pk,
        object_repr=str(survivor),
        action=AuditLogEntry.Action.UPDATE,
        changes={"merged_from": ["", f"#{other_id} {other.full_name}"]},
        actor=actor,
    )
    customers_merged.send(
        sender=Customer, survivor_id=survivor.pk, merged_id=other_id, actor_id=actor.pk
    )
    return survivor


def _move_contact_points(*, survivor: Customer, other: Customer) -> None:
    """Move the contacts; a contact the survivor already has is dropped, one primary per kind."""
    held = set(survivor.contact_points.values_list("kind", "normalised_value"))
    primary_kinds = set(
        survivor.contact_points.filter(is_primary=True).values_list("kind", flat=True)
    )
    for contact in ContactPoint.objects.filter(customer=other):
        if (contact.kind, contact.normalised_value) in held:
            contact.delete()
            continue
        changes: dict[str, Any] = {"customer_id": survivor.pk}
        if contact.is_primary and contact.kind in primary_kinds:
            changes["is_primary"] = False
        ContactPoint.objects.filter(pk=contact.pk).update(**changes)


def _move_history(*, survivor: Customer, other: Customer) -> None:
    """The merged customer's audit and admin history becomes the survivor's."""
    content_type = ContentType.objects.get_for_model(Customer)
    AuditLogEntry.objects.filter(content_type=content_type, object_pk=str(other.pk)).update(
        object_pk=str(survivor.pk), object_id=survivor.pk
    )
    LogEntry.objects.filter(content_type=content_type, object_id=str(other.pk)).update(
        object_id=str(survivor.pk)
    )


def survivor_of(merged_customer_id: int) -> int | None:
    """The id of the customer another was merged into, following chains of merges."""
    alias = CustomerAlias.objects.filter(merged_customer_id=merged_customer_id).first()
    return alias.customer_id if alias else None
