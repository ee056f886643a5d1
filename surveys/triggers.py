"""What makes a customer get a survey: a resolved ticket, a purchase, the calendar, a person.

Each trigger creates invitations (never sends them: delivery is the reminders machinery's job)
with the context of their cause copied on, so that answers can be cut by operator, channel and
personalisation. A customer is invited at most once per survey and cause (the database holds it:
`survey_invitation_once_per_cause`), only with consent to service messages, never once anonymised.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from core.dates import site_day_start
from customers.models import Channel, Customer, Purchase
from surveys.models import DEFAULT_INVITATION_TTL_DAYS, Survey, SurveyInvitation
from surveys.services import (
    NOT_SENT,
    SurveyTooSoon,
    by_turns,
    create_invitation,
    survey_spacing,
)
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
    return site_day_start(first), site_day_start(last + dt.timedelta(days=1))


def _service_channel(value: str) -> str:
    """A purchase's sales channel as a service channel, where the two lists share it."""
    return value if value in Channel.values else ""


def invite_after_ticket_resolved(*, ticket_id: int) -> SurveyInvitation | None:
    """Invite the ticket's customer to the surveys sent when a ticket is resolved.

    Surveys with a delay are left to `create_due_invitations`. A customer gets one survey per
    SURVEY_MIN_DAYS_BETWEEN days, so with CSAT and CES both set up one goes: the one the
    customer was asked least recently (CSAT on a first resolution), so they take turns.
    Returns the invitation or None when nobody is invited: the ticket is not resolved, the
    customer may not be asked (or was asked recently), or no survey is set up.
    """
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None or ticket.status not in (Status.RESOLVED, Status.CLOSED):
        return None
    if not is_eligible(ticket.customer):
        return None
    surveys: list[Survey] = list(
        Survey.objects.filter(is_active=True, trigger=Survey.Trigger.TICKET_RESOLVED, delay_days=0)
        # CSAT first among equals: it is the survey a resolution is for.
        .annotate(csat_first=Case(When(kind=Survey.Kind.CSAT, then=Value(0)), default=Value(1)))
        .order_by("csat_first", "kind", "id")
    )
    invitations = [
        invitation
        for survey in by_turns(ticket.customer_id, surveys)
        if (invitation := _invite_about_ticket(survey, ticket)) is not None
    ]
    return invitations[0] if invitations else None


def _invite_about_ticket(survey: Survey, ticket: Ticket) -> SurveyInvitation | None:
    try:
        invitation, _created = create_invitation(
            survey=survey,
            customer=ticket.customer,
            ticket=ticket,
            cause=f"ticket:{ticket.pk}",
            delivery_channel=ticket.customer.preferred_channel,
        )
    except SurveyTooSoon as exc:
        logger.info(
            "ticket %s: no %s survey, customer %s was sent one on %s",
            ticket.pk,
            survey.kind,
            ticket.customer_id,
            exc.last_sent_at,
        )
        return None
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
    operator sees why nothing was sent. Raises SurveyTooSoon when the customer was sent a
    survey within SURVEY_MIN_DAYS_BETWEEN days.
    """
    day = on or timezone.localdate()
    fields: dict[str, object] = {"delivery_channel": customer.preferred_channel}
    if not is_eligible(customer):
        fields["delivery_status"] = SurveyInvitation.DeliveryStatus.SKIPPED
    return create_invitation(
        survey=survey,
        customer=customer,
        ticket=ticket,
        cause=f"manual:{day.isoformat()}",
        **fields,
    )


def recently_surveyed(now: dt.datetime, customer_ref: str = "pk") -> Exists:
    """Whether the customer (`customer_ref` of the outer query) was sent a survey lately."""
    return Exists(
        SurveyInvitation.objects.filter(
            customer=OuterRef(customer_ref), created_at__gt=now - survey_spacing()
        ).exclude(delivery_status__in=NOT_SENT)
    )


def _one_per_customer(rows: list[SurveyInvitation]) -> list[SurveyInvitation]:
    """The first row of each customer: one run invites a customer at most once."""
    seen: set[int] = set()
    kept = []
    for row in rows:
        if row.customer_id not in seen:
            seen.add(row.customer_id)
            kept.append(row)
    return kept


def _bulk_invite(survey: Survey, rows: list[SurveyInvitation]) -> int:
    """Insert invitations, skipping those whose cause was invited already; return how many.

    The callers leave out customers surveyed within SURVEY_MIN_DAYS_BETWEEN days; this keeps
    one row per customer, and the surveys of one run go one after another, so that each sees
    what the previous one invited.
    """
    rows = _one_per_customer(rows) if survey_spacing() else rows
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
    if survey_spacing():
        purchases = purchases.exclude(recently_surveyed(now, "customer"))
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
    return _invite_for_tickets_resolved_between(survey, start=start, end=end, now=now)


def invite_for_recent_resolutions(now: dt.datetime) -> int:
    """The outbox sweep's step: invitations of tickets resolved a few minutes ago that have none
    (the resolution's task was never queued: the broker was down). Surveys without a delay
    only; the daily job catches up anything older than SURVEY_RESOLUTION_LOOKBACK_HOURS."""
    start = now - dt.timedelta(hours=settings.SURVEY_RESOLUTION_LOOKBACK_HOURS)
    end = now - dt.timedelta(seconds=settings.SURVEY_RESOLUTION_GRACE_SECONDS)
    surveys = Survey.objects.filter(
        is_active=True, trigger=Survey.Trigger.TICKET_RESOLVED, delay_days=0
    ).order_by("pk")
    return sum(
        _invite_for_tickets_resolved_between(survey, start=start, end=end, now=now)
        for survey in surveys
    )


def _invite_for_tickets_resolved_between(
    survey: Survey, *, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> int:
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
    if survey_spacing():
        tickets = tickets.exclude(recently_surveyed(now, "customer"))
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
    customers = eligible_customers().filter(Exists(bought)).exclude(Exists(recent))
    if survey_spacing():
        customers = customers.exclude(recently_surveyed(now))
    customers = customers.order_by("pk")[:PERIODIC_DAILY_LIMIT]
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
