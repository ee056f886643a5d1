"""Reminders as an outbox kind (core/outbox): when and where one may go, how it is sent.

The outbox claims, retries and records; this module says, for one reminder: cancel it (its
term has ended), skip it (no consent, no usable contact), wait (a later day, quiet hours), or
send it on the first channel the customer allows that has not been given up on; after the last
attempt on a channel, `fall_back` moves it to the customer's next consented channel.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.outbox.registry import Decision, Defer, Hold, OutboxKind, Send
from customers.delivery.backends import OutgoingMessage, get_backend
from customers.delivery.messages import render_message
from customers.delivery.quiet_hours import customer_zone, next_allowed_time, start_of_day
from customers.delivery.routing import NoRoute, Route, choose_route
from customers.models import Interaction, Reminder

KIND = "reminder"
DeliveryStatus = Reminder.DeliveryStatus


def provider_key(row: Any, channel: str) -> str:
    """The key a provider sees for a message on a channel: the same on every attempt."""
    return f"{row.idempotency_key.hex}-{channel}"


def prepare_reminder(reminder: Reminder, now: dt.datetime) -> Decision:
    """Whether the reminder may go now, and on which route."""
    customer = reminder.customer
    zone = customer_zone(customer.time_zone)
    if reminder.ends_on and reminder.ends_on < timezone.localdate(now, zone):
        return Hold(DeliveryStatus.CANCELLED, _("The term has already ended."))
    route = choose_route(
        customer=customer,
        contacts=customer.contact_points.all(),
        preferred=customer.preferred_channel,
        exclude=reminder.failed_channels or (),
    )
    if isinstance(route, NoRoute):
        return Hold(DeliveryStatus.SKIPPED, route.reason)
    allowed = next_allowed_time(max(now, start_of_day(reminder.due_on, zone)), zone)
    if allowed > now + dt.timedelta(seconds=5):
        return Defer(allowed)
    return Send(
        payload=route,
        fields={"channel": route.channel, "contact_address": route.contact.value},
    )


def reminder_message(*, reminder: Reminder, route: Route) -> OutgoingMessage:
    """The reminder rendered in the customer's language for the chosen route."""
    purchase = reminder.purchase
    product = purchase.product.name if purchase.product_id and purchase.product else ""
    customer = reminder.customer
    days_left = (reminder.ends_on - reminder.due_on).days if reminder.ends_on else None
    return render_message(
        route=route,
        language=customer.language,
        template_prefix="customers/email/reminder",
        context={
            "kind": reminder.kind,
            "customer_name": customer.full_name,
            "product": product,
            "ends_on": reminder.ends_on,
            "days_left": days_left,
            "purchased_on": purchase.purchased_on,
        },
        idempotency_key=provider_key(reminder, route.channel),
    )


def send_reminder(reminder: Reminder, route: Route, now: dt.datetime) -> None:
    get_backend(route.channel).send(reminder_message(reminder=reminder, route=route))


def reminder_sent(reminder: Reminder, route: Route, now: dt.datetime) -> None:
    """The sent reminder on the customer's timeline (once: in the transaction marking it)."""
    with translation.override(settings.LANGUAGE_CODE):
        summary = _("%(kind)s: reminder sent for %(purchase)s, the term ends on %(ends_on)s.") % {
            "kind": reminder.get_kind_display(),
            "purchase": reminder.purchase,
            "ends_on": reminder.ends_on.isoformat() if reminder.ends_on else "-",
        }
    record_outbound_message(
        customer_id=reminder.customer_id,
        kind=Interaction.Kind.REMINDER,
        route=route,
        at=now,
        summary=summary,
    )


def fall_back(reminder: Reminder, now: dt.datetime) -> dict[str, object] | None:
    """After the last attempt on a channel: the customer's next consented channel, if any."""
    failed = [*(reminder.failed_channels or []), reminder.channel]
    customer = reminder.customer
    route = choose_route(
        customer=customer,
        contacts=customer.contact_points.all(),
        preferred=customer.preferred_channel,
        exclude=failed,
    )
    if isinstance(route, NoRoute):
        return None
    return {"failed_channels": failed, "channel": route.channel}


def record_outbound_message(
    *, customer_id: int, kind: str, route: Route, at: dt.datetime, summary: str
) -> Interaction:
    """Put a message the CRM sent (reminder, survey invitation) on the customer's timeline."""
    return Interaction.objects.create(
        customer_id=customer_id,
        kind=kind,
        channel=route.channel,
        direction=Interaction.Direction.OUTBOUND,
        contact_address=route.contact.value,
        started_at=at,
        ended_at=at,
        summary=summary,
    )


def due_today(rows: QuerySet[Reminder], now: dt.datetime) -> QuerySet[Reminder]:
    """Reminders whose day has come in the site's zone (the claim checks the customer's)."""
    return rows.filter(due_on__lte=timezone.localdate(now))


REMINDERS = OutboxKind(
    name=KIND,
    model=Reminder,
    prepare=prepare_reminder,
    send=send_reminder,
    on_sent=reminder_sent,
    fallback=fall_back,
    due=due_today,
    select_related=("customer", "purchase__product"),
)
