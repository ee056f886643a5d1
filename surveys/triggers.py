"""What makes a customer get a survey: a resolved ticket, a purchase, the calendar, a person.

Each trigger creates invitations (never sends them: delivery is the reminders machinery's job)
with the context of their cause copied on, so that answers can be cut by operator, channel and
personalisation. A customer is invited at most once per survey and cause (the database holds it:
`survey_invitation_once_per_cause`), only with consent to service messages, never once anonymised.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from customers.models import Channel, Customer, Purchase
from surveys.models import DEFAULT_INVITATION_TTL_DAYS, Survey, SurveyInvitation
from surveys.services import create_invitation
from tickets.models import Status, Ticket

logger = logging.getLogger(__name__)

# A day the daily job missed is caught up on the next runs for this long; later, the moment to
# ask has passed. Idempotent either way: the cause is unique per survey and customer.
CATCH_UP_DAYS = 7
# Periodic surveys (NPS) without a repeat interval ask the same customer at most twice a year.
DEFAULT_REPEAT_AFTER_DAYS = 182
# At most this many periodic invitations a day, so that the first run after a survey is
# switched on does not ask the whole customer base at once; the rest follow on later days.
PERIODIC_DAILY_LIMIT = 5000
BULK_BATCH_SIZE = 1000


def eligible_customers() -> QuerySet[Customer]:
    """Customers who may be asked: consent to service messages, not anonymised."""
    return Customer.objects.filter(consent_reminders=True, anonymised_at__isnull=True)


def is_eligible(customer: Customer) -> bool:
    return customer.consent_reminders and customer.anonymised_at is None


def _local_day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, start of the day after `last`) in the site's time zone."""
    zone = timezone.get_default_timezone()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _service_channel(value: str) -> str:
    """A purchase's sales channel as a service channel, where the two lists share it."""
    return value if value in Channel.values else ""


def invite_after_ticket_resolved(*, ticket_id: int) -> SurveyInvitation | None:
    """Invite the ticket's customer to the surveys sent when a ticket is resolved.

    Surveys with a delay are left to `create_due_invitations`. Returns the CSAT invitation (or
    the first one created) or None when nobody is invited: the ticket is not resolved, the
    customer may not be asked, or no survey is set up.
    """
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None or ticket.status not in (Status.RESOLVED, Status.CLOSED):
        return None
    if not is_eligible(ticket.customer):
        return None
    surveys = Survey.objects.filter(
        is_active=True, trigger=Survey.Trigger.TICKET_RESOLVED, delay_days=0
    ).order_by("kind", "id")
    invitations = [_invite_about_ticket(survey, ticket) for survey in surveys]
    for invitation in invitations:
        if invitation.survey.kind == Survey.Kind.CSAT:
            return invitation
    return invitations[0] if invitations else None


def _invite_about_ticket(survey: Survey, ticket: Ticket) -> SurveyInvitation:
    invitation, _created = create_invitation(
        survey=survey,
        customer=ticket.customer,
        ticket=ticket,
        cause=f"ticket:{ticket.pk}",
        delivery_channel=ticket.customer.preferred_channel,
    )
    return invitation


def invite_manually(
    *,
    survey: Survey,
    customer: Customer,
    ticket: Ticket | None = None,
    on: dt.date | None = None,
) -> tuple[SurveyInvitation, bool]:
    """An operator sends a survey by hand: once per survey, customer and day.

    Raises nothing for an ineligible customer: the invitation is created as skipped, so the
    operator sees why nothing was sent.
    """
    day = on or timezone.localdate()
    fields: dict[str, object] = {"delivery_channel": customer.preferred_channel}
    if not is_eligible(customer):
        fields["delivery_status"] = SurveyInvitation.Delivery.SKIPPED
    return create_invitation(
        survey=survey,
        customer=customer,
        ticket=ticket,
        cause=f"manual:{day.isoformat()}",
        **fields,
    )


def _bulk_invite(survey: Survey, rows: list[SurveyInvitation]) -> int:
    """Insert invitations, skipping those whose cause was invited already; return how many."""
    if not rows:
        return 0
    causes = {row.cause for row in rows}
    before = SurveyInvitation.objects.filter(survey=survey, cause__in=causes).count()
    with transaction.atomic():
        SurveyInvitation.objects.bulk_create(
            rows, batch_size=BULK_BATCH_SIZE, ignore_conflicts=True
        )
    return SurveyInvitation.objects.filter(survey=survey, cause__in=causes).count() - before


def _new_invitation(
    survey: Survey, customer: Customer, now: dt.datetime, **fields: object
) -> SurveyInvitation:
    ttl = survey.invitation_ttl_days or DEFAULT_INVITATION_TTL_DAYS
    return SurveyInvitation(
        survey=survey,
        customer=customer,
        delivery_channel=customer.preferred_channel,
        created_at=now,
        expires_at=now + dt.timedelta(days=ttl),
        **fields,
    )


def _purchase_invitations(survey: Survey, *, on: dt.date, now: dt.datetime) -> int:
    last = on - dt.timedelta(days=survey.delay_days)
    start, end = _local_day_bounds(last - dt.timedelta(days=CATCH_UP_DAYS), last)
    already = SurveyInvitation.objects.filter(survey=survey, purchase=OuterRef("pk"))
    purchases = (
        Purchase.objects.filter(
            status=Purchase.Status.COMPLETED,
            purchased_at__gte=start,
            purchased_at__lt=end,
            customer__in=eligible_customers(),
        )
        .exclude(Exists(already))
        .select_related("customer")
        .order_by("pk")
    )
    rows = [
        _new_invitation(
            survey,
            purchase.customer,
            now,
            cause=f"purchase:{purchase.pk}",
            purchase=purchase,
            channel=_service_channel(purchase.channel),
        )
        for purchase in purchases.iterator(chunk_size=BULK_BATCH_SIZE)
    ]
    return _bulk_invite(survey, rows)


def _delayed_ticket_invitations(survey: Survey, *, on: dt.date, now: dt.datetime) -> int:
    last = on - dt.timedelta(days=survey.delay_days)
    start, end = _local_day_bounds(last - dt.timedelta(days=CATCH_UP_DAYS), last)
    already = SurveyInvitation.objects.filter(survey=survey, ticket=OuterRef("pk"))
    tickets = (
        Ticket.objects.filter(
            status__in=(Status.RESOLVED, Status.CLOSED),
            resolved_at__gte=start,
            resolved_at__lt=end,
            customer__in=eligible_customers(),
        )
        .exclude(Exists(already))
        .select_related("customer")
        .order_by("pk")
    )
    rows = [
        _new_invitation(
            survey,
            ticket.customer,
            now,
            cause=f"ticket:{ticket.pk}",
            ticket=ticket,
            operator_id=ticket.assignee_id,
            channel=ticket.channel,
            personalized=ticket.personalized,
        )
        for ticket in tickets.iterator(chunk_size=BULK_BATCH_SIZE)
    ]
    return _bulk_invite(survey, rows)


def _periodic_invitations(survey: Survey, *, on: dt.date, now: dt.datetime) -> int:
    repeat = survey.repeat_after_days or DEFAULT_REPEAT_AFTER_DAYS
    since, _end = _local_day_bounds(on - dt.timedelta(days=repeat - 1), on)
    recent = SurveyInvitation.objects.filter(
        survey=survey, customer=OuterRef("pk"), created_at__gte=since
    )
    # Customers who bought from us: someone who never did has nothing to recommend yet.
    bought = Purchase.objects.filter(customer=OuterRef("pk"), status=Purchase.Status.COMPLETED)
    customers = (
        eligible_customers()
        .filter(Exists(bought))
        .exclude(Exists(recent))
        .order_by("pk")[:PERIODIC_DAILY_LIMIT]
    )
    cause = f"periodic:{on.isoformat()}"
    rows = [_new_invitation(survey, customer, now, cause=cause) for customer in customers]
    return _bulk_invite(survey, rows)


def create_due_invitations(*, on: dt.date) -> int:
    """Create the invitations due on day `on`; return how many were created.

    Purchase surveys `delay_days` after the purchase, ticket surveys `delay_days` after the
    resolution (catching up any the resolution task missed), periodic surveys (NPS) for
    customers not asked within `repeat_after_days`. Running it twice for the
    same day creates nothing the second time.
    """
    now = timezone.now()
    created = 0
    surveys = Survey.objects.filter(is_active=True).filter(
        Q(trigger=Survey.Trigger.PURCHASE)
        | Q(trigger=Survey.Trigger.PERIODIC)
        # Ticket surveys with a delay are due now; without one, this is the safety net for a
        # resolution whose task was lost (broker down): the cause keeps it to one invitation.
        | Q(trigger=Survey.Trigger.TICKET_RESOLVED)
    )
    for survey in surveys.order_by("pk"):
        if survey.trigger == Survey.Trigger.PURCHASE:
            count = _purchase_invitations(survey, on=on, now=now)
        elif survey.trigger == Survey.Trigger.PERIODIC:
            count = _periodic_invitations(survey, on=on, now=now)
        else:
            count = _delayed_ticket_invitations(survey, on=on, now=now)
        logger.info("survey %s: %d invitations due on %s", survey.pk, count, on)
        created += count
    return created
