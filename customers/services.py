"""Writes about customers that touch more than one row or carry a rule.

Views, the API, the admin, tasks and commands call these; none of them re-implements a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

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
    """Add contact points to a customer; errors name the item (`contact_points[1].value`)."""
    items = [dict(item) for item in contact_points]
    has_primary = (
        set(customer.contact_points.filter(is_primary=True).values_list("kind", flat=True))
        if customer.pk
        else set()
    )
    explicit_primary = {item.get("kind") for item in items if item.get("is_primary")}
    created: list[ContactPoint] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        kind = item.get("kind")
        if not item.get("is_primary") and kind not in has_primary and kind not in explicit_primary:
            item["is_primary"] = True
        contact = ContactPoint(customer=customer, **item)
        try:
            contact.full_clean(exclude=["customer"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"contact_points[{index}].{field}"] = messages
            continue
        if item["is_primary"]:
            has_primary.add(contact.kind)
        created.append(contact)
    if errors:
        raise ValidationError(errors)
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
