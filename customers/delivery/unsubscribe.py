"""Unsubscribe links: a signed, expiring token naming one contact point, usable without a login.

The token is opaque: it carries the contact point's id and a keyed fingerprint of its address
(HMAC with the secret key, so the address cannot be read or guessed back from it), signed with
a timestamp. It stops working after settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS, and when the
address changes. Links of the first format (the address itself, readable in base64) are still
honoured within the same age, so messages already sent keep their working link until they
expire; none is made any more.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from customers.models import ContactPoint

SALT = "customers.unsubscribe"


def _fingerprint(normalised_value: str) -> str:
    return salted_hmac(f"{SALT}.address", normalised_value, algorithm="sha256").hexdigest()[:16]


def unsubscribe_token(contact: ContactPoint) -> str:
    """A token for `contact`, valid for the configured days while its address is unchanged."""
    return signing.dumps([contact.pk, _fingerprint(contact.normalised_value)], salt=SALT)


def unsubscribe_url(contact: ContactPoint) -> str:
    """The absolute unsubscribe link for `contact` (settings.SITE_URL plus the public path)."""
    path = reverse("customers_public:unsubscribe", args=[unsubscribe_token(contact)])
    return f"{settings.SITE_URL}{path}"


def contact_for_token(token: str) -> ContactPoint | None:
    """The contact point a token names, or None for a forged, damaged or outdated token."""
    max_age = dt.timedelta(days=settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:  # forged, damaged or expired (SignatureExpired)
        return None
    if isinstance(data, list) and len(data) == 2 and isinstance(data[0], int):
        contact = ContactPoint.objects.select_related("customer").filter(pk=data[0]).first()
        if contact is None or not constant_time_compare(
            _fingerprint(contact.normalised_value), str(data[1])
        ):
            return None
        return contact
    # The first format, {"cp": id, "v": address}: honoured until it expires.
    if isinstance(data, dict) and isinstance(data.get("cp"), int):
        return (
            ContactPoint.objects.select_related("customer")
            .filter(pk=data["cp"], normalised_value=str(data.get("v", "")))
            .first()
        )
    return None


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
