"""Writes about customers that touch more than one row or carry a rule.

Views, the API, the admin, tasks and commands call these; none of them re-implements a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from customers.models import ContactPoint, Customer

ContactData = Mapping[str, Any]


@transaction.atomic
def create_customer(
    *, full_name: str, contact_points: Iterable[ContactData] = (), **fields: Any
) -> Customer:
    """Create a customer with their contact points, all or nothing.

    The first contact of each kind becomes primary unless one is marked so. A bad contact
    raises ValidationError keyed `contact_points` with the index of the offending item.
    """
    customer = Customer(full_name=full_name, **fields)
    customer.full_clean()
    customer.save()
    add_contact_points(customer=customer, contact_points=contact_points)
    return customer


@transaction.atomic
def add_contact_points(
    *, customer: Customer, contact_points: Iterable[ContactData]
) -> list[ContactPoint]:
    """Add contact points to a customer, all or none; errors name the item.

    Errors are keyed like `contact_points[1].value`. A contact marked primary demotes the
    customer's previous primary of its kind; otherwise the first of a kind becomes primary.
    """
    items = [dict(item) for item in contact_points]
    stored: set[tuple[str, str]] = set()
    primary_kinds: set[str] = set()
    if customer.pk:
        for kind, value, is_primary in customer.contact_points.values_list(
            "kind", "normalised_value", "is_primary"
        ):
            stored.add((kind, value))
            if is_primary:
                primary_kinds.add(kind)
    marked_primary = [item.get("kind") for item in items if item.get("is_primary")]
    created: list[ContactPoint] = []
    seen: set[tuple[str, str]] = set()
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        contact = ContactPoint(customer=customer, **item)
        try:
            contact.full_clean(exclude=["customer"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"contact_points[{index}].{field}"] = messages
            continue
        key = (contact.kind, contact.normalised_value)
        # Caught here, so that the unique constraints never surface as an IntegrityError.
        if key in stored:
            errors[f"contact_points[{index}].value"] = [_("The customer already has this contact.")]
            continue
        if key in seen:
            errors[f"contact_points[{index}].value"] = [_("This contact is given twice.")]
            continue
        if contact.is_primary and marked_primary.count(contact.kind) > 1:
            errors[f"contact_points[{index}].is_primary"] = [
                _("Only one contact of each kind can be primary.")
            ]
            continue
        seen.add(key)
        if contact.kind not in primary_kinds and contact.kind not in marked_primary:
            contact.is_primary = True
        if contact.is_primary:
            primary_kinds.add(contact.kind)
        created.append(contact)
    if errors:
        raise ValidationError(errors)
    demote = {contact.kind for contact in created if contact.is_primary}
    if customer.pk and demote:
        customer.contact_points.filter(kind__in=demote, is_primary=True).update(is_primary=False)
    for contact in created:
        contact.save()
    return created


@transaction.atomic
def set_primary_contact(*, contact: ContactPoint) -> ContactPoint:
    """Make `contact` the customer's primary contact of its kind, demoting the previous one."""
    ContactPoint.objects.filter(
        customer_id=contact.customer_id, kind=contact.kind, is_primary=True
    ).exclude(pk=contact.pk).update(is_primary=False)
    contact.is_primary = True
    contact.save(update_fields=["is_primary", "normalised_value"])
    return contact
