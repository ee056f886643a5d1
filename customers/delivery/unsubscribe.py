"""Unsubscribe links: a signed token naming one contact point, usable without a login."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from customers.models import ContactPoint

SALT = "customers.unsubscribe"


def unsubscribe_token(contact: ContactPoint) -> str:
    """A token for `contact` that stays valid while its address is unchanged."""
    return signing.dumps({"cp": contact.pk, "v": contact.normalised_value}, salt=SALT)


def unsubscribe_url(contact: ContactPoint) -> str:
    """The absolute unsubscribe link for `contact` (settings.SITE_URL plus the public path)."""
    path = reverse("customers_public:unsubscribe", args=[unsubscribe_token(contact)])
    return f"{settings.SITE_URL}{path}"


def contact_for_token(token: str) -> ContactPoint | None:
    """The contact point a token names, or None for a forged, damaged or outdated token."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("cp"), int):
        return None
    return (
        ContactPoint.objects.select_related("customer")
        .filter(pk=data["cp"], normalised_value=str(data.get("v", "")))
        .first()
    )


@transaction.atomic
def opt_out_contact(*, contact: ContactPoint, at: dt.datetime | None = None) -> bool:
    """Opt the contact point out of reminders and surveys; False if it already was."""
    moment = at or timezone.now()
    updated = ContactPoint.objects.filter(pk=contact.pk, opted_out_at__isnull=True).update(
        opted_out_at=moment
    )
    if updated:
        contact.opted_out_at = moment
    else:
        contact.refresh_from_db(fields=["opted_out_at"])
    return bool(updated)
