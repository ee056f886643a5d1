"""Reads about customers, with their query shapes in one visible place."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from customers.contacts import normalise_email, normalise_phone
from customers.models import ContactPoint, Customer


def customers_by_phone(raw_phone: str) -> QuerySet[Customer]:
    """Customers having this phone (any spelling) as a phone or phone-based messenger.

    Raises ValidationError if the text is not a phone number. One indexed query.
    """
    e164 = normalise_phone(raw_phone)
    return Customer.objects.filter(
        contact_points__kind__in=[ContactPoint.Kind.PHONE, ContactPoint.Kind.MESSENGER],
        contact_points__normalised_value=e164,
    ).distinct()


def customers_by_email(raw_email: str) -> QuerySet[Customer]:
    """Customers having this email address, whatever its case. One indexed query."""
    email = normalise_email(raw_email)
    return Customer.objects.filter(
        contact_points__kind=ContactPoint.Kind.EMAIL, contact_points__normalised_value=email
    ).distinct()


def customers_by_contact(text: str) -> QuerySet[Customer]:
    """Customers matching free text read as an email (if it has "@") or a phone.

    Empty when the text is neither; for search boxes, where a name is also a fair guess.
    """
    text = (text or "").strip()
    try:
        return customers_by_email(text) if "@" in text else customers_by_phone(text)
    except ValidationError:
        return Customer.objects.none()
