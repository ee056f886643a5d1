"""Delivering survey invitations through the customers' channel machinery, exactly once.

The same guarantees as reminders (customers/delivery/service.py): a short claim
transaction with SKIP LOCKED moves pending -> sending, the message goes out with no
transaction open, then the invitation is marked sent, back to pending for a later attempt,
or failed after the last one. Consent, opt-outs and quiet hours apply; an expired
invitation is never sent.

SurveyInvitation has no claim-time column: while an invitation is `sending`, `sent_at`
holds the moment it was claimed (the start of the attempt); it becomes the sending time when
the attempt succeeds and is cleared when it does not. The sweep uses it to find claims of a
worker that died mid-send.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
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
from customers.delivery.policy import Outcome, error_text, retry_delay, stuck_before
from customers.delivery.quiet_hours import customer_zone, next_allowed_time
from customers.delivery.routing import NoRoute, Route, choose_route
from customers.delivery.service import record_outbound_message
from customers.models import Interaction
from surveys.models import SurveyInvitation

logger = logging.getLogger(__name__)

# The public answer page (surveys/urls.py): short enough for an SMS.
SURVEY_PATH = "/s/{token}/"
SWEEP_BATCH_SIZE = 5000
Delivery = SurveyInvitation.Delivery


def survey_url(invitation: SurveyInvitation) -> str:
    """The absolute link to the invitation's answer page."""
    return settings.SITE_URL + SURVEY_PATH.format(token=invitation.token)


def claim_invitation(
    *, invitation_id: int, now: dt.datetime
) -> tuple[SurveyInvitation, Route] | Outcome:
    """Move a pending invitation to `sending` for this worker, or say why not."""
    with transaction.atomic():
        invitation = (
            SurveyInvitation.objects.select_for_update(skip_locked=True)
            .filter(pk=invitation_id, delivery_status=Delivery.PENDING)
            .first()
        )
        if invitation is None:
            return Outcome(Outcome.NOT_CLAIMED)
        if invitation.is_expired(now):
            return _close(invitation, Delivery.SKIPPED, _("The invitation expired unsent."))
        if invitation.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            return _close(
                invitation,
                Delivery.FAILED,
                invitation.last_error or _("Gave up after the last attempt."),
            )
        customer = invitation.customer
        route = choose_route(
            customer=customer,
            contacts=customer.contact_points.all(),
            preferred=customer.preferred_channel,
        )
        if isinstance(route, NoRoute):
            return _close(invitation, Delivery.SKIPPED, route.reason)
        allowed = next_allowed_time(now, customer_zone(customer.time_zone))
        if allowed > now:
            # Nothing to store: the deliveries sweep offers it again every few minutes and
            # this check lets it through once the morning has come.
            return Outcome(Outcome.DEFERRED, retry_at=allowed)
        invitation.delivery_status = Delivery.SENDING
        invitation.sent_at = now  # the claim time while sending; see the module docstring
        invitation.attempts += 1
        invitation.delivery_channel = route.channel
        invitation.save(
            update_fields=["delivery_status", "sent_at", "attempts", "delivery_channel"]
        )
        return invitation, route


def _close(invitation: SurveyInvitation, status: str, reason: str) -> Outcome:
    invitation.delivery_status = status
    invitation.last_error = reason
    invitation.sent_at = None
    invitation.save(update_fields=["delivery_status", "last_error", "sent_at"])
    return Outcome(status, detail=reason)


def invitation_message(*, invitation: SurveyInvitation, route: Route) -> OutgoingMessage:
    """The invitation in the customer's language: the question and the link to answer it."""
    customer = invitation.customer
    language = customer.language
    return render_message(
        route=route,
        language=language,
        template_prefix="surveys/email/invitation",
        context={
            "customer_name": customer.full_name,
            "question": invitation.survey.question_for(language),
            "survey_url": survey_url(invitation),
            "expires_at": invitation.expires_at,
        },
        idempotency_key=f"survey-{invitation.pk}-{invitation.attempts}",
    )


def deliver_invitation(*, invitation_id: int, now: dt.datetime | None = None) -> Outcome:
    """Claim, send and record one invitation; safe to call any number of times."""
    started = now or timezone.now()
    claimed = claim_invitation(invitation_id=invitation_id, now=started)
    if isinstance(claimed, Outcome):
        return claimed
    invitation, route = claimed
    try:
        get_backend(route.channel).send(invitation_message(invitation=invitation, route=route))
    except PermanentDeliveryError as exc:
        return _record_failure(invitation, exc, now=now, final=True)
    except TemporaryDeliveryError as exc:
        return _record_failure(invitation, exc, now=now, final=False)
    except Exception as exc:
        logger.exception("invitation %s: unexpected delivery error", invitation.pk)
        return _record_failure(invitation, exc, now=now, final=False)
    _record_sent(invitation, route, now=now or timezone.now())
    return Outcome(Outcome.SENT)


@transaction.atomic
def _record_sent(invitation: SurveyInvitation, route: Route, *, now: dt.datetime) -> None:
    updated = SurveyInvitation.objects.filter(
        pk=invitation.pk, delivery_status__in=[Delivery.SENDING, Delivery.PENDING]
    ).update(delivery_status=Delivery.SENT, sent_at=now, last_error="")
    if not updated:
        return
    with translation.override(settings.LANGUAGE_CODE):
        summary = _("Survey invitation sent: %(survey)s.") % {
            "survey": invitation.survey.get_kind_display()
        }
    record_outbound_message(
        customer_id=invitation.customer_id,
        kind=Interaction.Kind.SURVEY,
        route=route,
        at=now,
        summary=summary,
    )


@transaction.atomic
def _record_failure(
    invitation: SurveyInvitation, exc: BaseException, *, now: dt.datetime | None, final: bool
) -> Outcome:
    moment = now or timezone.now()
    reason = error_text(exc)
    if final or invitation.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        SurveyInvitation.objects.filter(pk=invitation.pk, delivery_status=Delivery.SENDING).update(
            delivery_status=Delivery.FAILED, last_error=reason, sent_at=None
        )
        logger.warning("invitation %s failed for good: %s", invitation.pk, reason)
        return Outcome(Outcome.FAILED, detail=reason)
    SurveyInvitation.objects.filter(pk=invitation.pk, delivery_status=Delivery.SENDING).update(
        delivery_status=Delivery.PENDING, last_error=reason, sent_at=None
    )
    return Outcome(Outcome.RETRY, retry_at=moment + retry_delay(invitation.attempts), detail=reason)


def recover_stuck_invitations(*, now: dt.datetime) -> int:
    """Put invitations claimed by a worker that died mid-send back to pending."""
    return SurveyInvitation.objects.filter(
        delivery_status=Delivery.SENDING, sent_at__lt=stuck_before(now)
    ).update(
        delivery_status=Delivery.PENDING,
        sent_at=None,
        last_error=_("The worker stopped while sending; trying again."),
    )


def due_invitation_ids(*, now: dt.datetime, limit: int = SWEEP_BATCH_SIZE) -> list[int]:
    """Pending, unexpired invitations whose back-off has passed, oldest first.

    Without a next-attempt column, an invitation tried `a` times is offered again only once
    the sum of the first `a` back-offs has passed since it was created: never earlier than
    the schedule, so the sweep catches a lost retry without undoing the back-off. (The claim
    checks quiet hours.)
    """
    waited = Q()
    total = dt.timedelta(0)
    for attempts in range(settings.DELIVERY_MAX_ATTEMPTS + 1):
        if attempts:
            total += retry_delay(attempts)
        waited |= Q(attempts=attempts, created_at__lte=now - total)
    waited |= Q(attempts__gt=settings.DELIVERY_MAX_ATTEMPTS)
    return list(
        SurveyInvitation.objects.filter(delivery_status=Delivery.PENDING, expires_at__gt=now)
        .filter(waited)
        .order_by("created_at", "id")
        .values_list("id", flat=True)[:limit]
    )


@shared_task(name="surveys.deliver_invitation", bind=True, acks_late=True, max_retries=None)
def deliver_invitation_task(self: Any, invitation_id: int) -> str:
    """Send one invitation; on a temporary failure schedule the next attempt with back-off."""
    outcome = deliver_invitation(invitation_id=invitation_id)
    # Inline (eager) runs leave the retry to the deliveries sweep: a Retry raised there would
    # surface in the caller, e.g. the web request that created the row.
    if (
        outcome.status == Outcome.RETRY
        and outcome.retry_at is not None
        and not self.request.is_eager
    ):
        countdown = max((outcome.retry_at - timezone.now()).total_seconds(), 0)
        raise self.retry(countdown=countdown)
    return outcome.status
