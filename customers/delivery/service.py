"""Sending reminders exactly once: claim, send outside the transaction, record.

1. `claim_reminder` locks the row with SELECT ... FOR UPDATE SKIP LOCKED and moves it
   pending -> sending in one short transaction (or skips, cancels or defers it).
2. The message goes to the channel backend with no transaction open.
3. `deliver_reminder` marks it sent (with an Interaction on the customer's timeline), or
   back to pending with the next attempt time, or failed after the last attempt.

A worker that dies between 1 and 3 leaves the row in `sending`; `recover_stuck_reminders`
puts it back after DELIVERY_STUCK_AFTER_SECONDS. If the crash came after the provider
accepted the message, that one message may go out twice; the idempotency key sent to
providers that support it (the reminder's id and attempt) narrows even that window.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.delivery.backends import (
    OutgoingMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    get_backend,
)
from customers.delivery.messages import render_message
from customers.delivery.policy import (
    DUE_TOLERANCE,
    Outcome,
    error_text,
    retry_delay,
    stuck_before,
)
from customers.delivery.quiet_hours import customer_zone, next_allowed_time, start_of_day
from customers.delivery.routing import NoRoute, Route, choose_route
from customers.models import Interaction, Reminder

logger = logging.getLogger(__name__)

# How many due reminders one sweep hands to the queue; the next sweep takes the rest.
SWEEP_BATCH_SIZE = 5000


def claim_reminder(*, reminder_id: int, now: dt.datetime) -> tuple[Reminder, Route] | Outcome:
    """Move a pending reminder to `sending` for this worker, or say why not.

    Skips (with the reason in last_error) a customer without consent or usable contact,
    cancels a reminder whose term has already ended, and defers one that is not due yet or
    would arrive in the customer's quiet hours (next_attempt_at holds the morning).
    """
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(pk=reminder_id, status=Reminder.Status.PENDING)
            .first()
        )
        if reminder is None:
            return Outcome(Outcome.NOT_CLAIMED)
        if reminder.next_attempt_at and reminder.next_attempt_at > now + DUE_TOLERANCE:
            return Outcome(Outcome.DEFERRED, retry_at=reminder.next_attempt_at)
        customer = reminder.customer
        zone = customer_zone(customer.time_zone)
        if reminder.ends_on and reminder.ends_on < timezone.localdate(now, zone):
            return _close(reminder, Reminder.Status.CANCELLED, _("The term has already ended."))
        if reminder.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            return _close(
                reminder,
                Reminder.Status.FAILED,
                reminder.last_error or _("Gave up after the last attempt."),
            )
        route = choose_route(
            customer=customer,
            contacts=customer.contact_points.all(),
            preferred=customer.preferred_channel,
        )
        if isinstance(route, NoRoute):
            return _close(reminder, Reminder.Status.SKIPPED, route.reason)
        allowed = next_allowed_time(max(now, start_of_day(reminder.due_on, zone)), zone)
        if allowed > now + DUE_TOLERANCE:
            reminder.next_attempt_at = allowed
            reminder.save(update_fields=["next_attempt_at", "updated_at"])
            return Outcome(Outcome.DEFERRED, retry_at=allowed)
        reminder.status = Reminder.Status.SENDING
        reminder.claimed_at = now
        reminder.attempts += 1
        reminder.channel = route.channel
        reminder.contact_address = route.contact.value
        reminder.save(
            update_fields=[
                "status",
                "claimed_at",
                "attempts",
                "channel",
                "contact_address",
                "updated_at",
            ]
        )
        return reminder, route


def _close(reminder: Reminder, status: str, reason: str) -> Outcome:
    reminder.status = status
    reminder.last_error = reason
    reminder.next_attempt_at = None
    reminder.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at"])
    return Outcome(status, detail=reason)


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
        idempotency_key=f"reminder-{reminder.pk}-{reminder.attempts}",
    )


def deliver_reminder(*, reminder_id: int, now: dt.datetime | None = None) -> Outcome:
    """Claim, send and record one reminder; safe to call any number of times, anywhere.

    Returns what happened; on a temporary failure `retry_at` says when to try again.
    """
    started = now or timezone.now()
    claimed = claim_reminder(reminder_id=reminder_id, now=started)
    if isinstance(claimed, Outcome):
        return claimed
    reminder, route = claimed
    try:
        message = reminder_message(reminder=reminder, route=route)
        get_backend(route.channel).send(message)
    except PermanentDeliveryError as exc:
        return _record_failure(reminder, exc, now=now, final=True)
    except TemporaryDeliveryError as exc:
        return _record_failure(reminder, exc, now=now, final=False)
    except Exception as exc:
        logger.exception("reminder %s: unexpected delivery error", reminder.pk)
        return _record_failure(reminder, exc, now=now, final=False)
    _record_sent(reminder, route, now=now or timezone.now())
    return Outcome(Outcome.SENT)


@transaction.atomic
def _record_sent(reminder: Reminder, route: Route, *, now: dt.datetime) -> None:
    # A slow worker whose claim the sweep already took back still records its success, so
    # that the sweep does not send the message a second time.
    updated = Reminder.objects.filter(
        pk=reminder.pk, status__in=[Reminder.Status.SENDING, Reminder.Status.PENDING]
    ).update(
        status=Reminder.Status.SENT,
        sent_at=now,
        last_error="",
        next_attempt_at=None,
        updated_at=now,
    )
    if not updated:
        return
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


@transaction.atomic
def _record_failure(
    reminder: Reminder, exc: BaseException, *, now: dt.datetime | None, final: bool
) -> Outcome:
    moment = now or timezone.now()
    reason = error_text(exc)
    last_attempt = final or reminder.attempts >= settings.DELIVERY_MAX_ATTEMPTS
    if last_attempt:
        Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SENDING).update(
            status=Reminder.Status.FAILED,
            last_error=reason,
            next_attempt_at=None,
            updated_at=moment,
        )
        logger.warning("reminder %s failed for good: %s", reminder.pk, reason)
        return Outcome(Outcome.FAILED, detail=reason)
    retry_at = moment + retry_delay(reminder.attempts)
    Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SENDING).update(
        status=Reminder.Status.PENDING,
        last_error=reason,
        next_attempt_at=retry_at,
        claimed_at=None,
        updated_at=moment,
    )
    logger.info("reminder %s attempt %s failed: %s", reminder.pk, reminder.attempts, reason)
    return Outcome(Outcome.RETRY, retry_at=retry_at, detail=reason)


def recover_stuck_reminders(*, now: dt.datetime) -> int:
    """Put reminders claimed by a worker that died mid-send back to pending; return how many."""
    return Reminder.objects.filter(
        status=Reminder.Status.SENDING, claimed_at__lt=stuck_before(now)
    ).update(
        status=Reminder.Status.PENDING,
        claimed_at=None,
        next_attempt_at=now,
        last_error=_("The worker stopped while sending; trying again."),
        updated_at=now,
    )


def due_reminder_ids(*, now: dt.datetime, limit: int = SWEEP_BATCH_SIZE) -> list[int]:
    """Pending reminders due by now whose next attempt time has come, oldest first."""
    return list(
        Reminder.objects.filter(
            status=Reminder.Status.PENDING,
            due_on__lte=timezone.localdate(now),
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_TOLERANCE))
        .order_by("due_on", "id")
        .values_list("id", flat=True)[:limit]
    )
