"""Which channel and contact a message goes to, given consent and opt-outs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from customers.models import DELIVERY_CHANNELS, Channel, ContactPoint, Customer

# The contact kind each delivery channel needs.
CONTACT_KIND_BY_CHANNEL: dict[str, str] = {
    Channel.EMAIL: ContactPoint.Kind.EMAIL,
    Channel.SMS: ContactPoint.Kind.PHONE,
    Channel.MESSENGER: ContactPoint.Kind.MESSENGER,
}


@dataclass(frozen=True)
class Route:
    """Where a message goes: the channel and the contact point on it."""

    channel: str
    contact: ContactPoint


@dataclass(frozen=True)
class NoRoute:
    """Why a message cannot go anywhere."""

    reason: str


def channel_order(preferred: str) -> list[str]:
    """The preferred channel first, then the other delivery channels in their usual order."""
    others = [str(channel) for channel in DELIVERY_CHANNELS if channel != preferred]
    return [preferred, *others] if preferred in DELIVERY_CHANNELS else others


def choose_route(
    *,
    customer: Customer,
    contacts: Iterable[ContactPoint],
    preferred: str = "",
    consent_required: bool = True,
    exclude: Iterable[str] = (),
) -> Route | NoRoute:
    """The first allowed channel with a usable contact, preferred channel first.

    No route for an anonymised customer, for one without consent to reminders (when
    `consent_required`), or when every contact point was opted out of. Channels in `exclude`
    (given up on after their last attempt) are passed over.
    """
    if customer.is_anonymised:
        return NoRoute(_("The customer's data was erased."))
    if consent_required and not customer.consent_reminders:
        return NoRoute(_("The customer does not consent to reminders."))
    usable = [contact for contact in contacts if contact.opted_out_at is None]
    excluded = set(exclude)
    for channel in channel_order(preferred or customer.preferred_channel):
        if channel in excluded:
            continue
        kind = CONTACT_KIND_BY_CHANNEL[channel]
        matching = sorted(
            (contact for contact in usable if contact.kind == kind),
            key=lambda contact: (not contact.is_primary, contact.pk or 0),
        )
        if matching:
            return Route(channel=channel, contact=matching[0])
    return NoRoute(_("No email, phone or messenger contact the customer has not opted out of."))
