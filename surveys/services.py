"""Survey writes: inviting a customer and recording their answer, each exactly once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import formats, timezone
from django.utils.translation import ngettext

from core.outbox.tasks import deliver_task
from core.queue import enqueue_on_commit
from customers.models import Customer
from customers.selectors import customer_rows
from customers.signals import instance_rows, send_rows_written
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from surveys.sentiment import classify
from tickets.models import Ticket

SENTIMENT_BATCH_SIZE = 500  # rows per read and per UPDATE when labelling comments again

# Invitations that never reached the customer do not count against the spacing of surveys.
NOT_SENT = (SurveyInvitation.DeliveryStatus.SKIPPED, SurveyInvitation.DeliveryStatus.FAILED)


class SurveyTooSoon(ValidationError):
    """The customer was sent a survey less than SURVEY_MIN_DAYS_BETWEEN days ago."""

    def __init__(self, *, last_sent_at: dt.datetime, next_from: dt.date) -> None:
        self.last_sent_at = last_sent_at
        self.next_from = next_from
        super().__init__(
            {
                "customer": ngettext(
                    "This customer was sent a survey on %(last)s; one survey every %(days)s day "
                    "at most, so the next may go out from %(next)s.",
                    "This customer was sent a survey on %(last)s; one survey every %(days)s days "
                    "at most, so the next may go out from %(next)s.",
                    settings.SURVEY_MIN_DAYS_BETWEEN,
                )
                % {
                    "last": formats.date_format(
                        timezone.localtime(last_sent_at), "SHORT_DATETIME_FORMAT"
                    ),
                    "days": settings.SURVEY_MIN_DAYS_BETWEEN,
                    "next": formats.date_format(next_from, "SHORT_DATE_FORMAT"),
                }
            },
        )


def survey_spacing() -> dt.timedelta:
    """The least time between two surveys sent to one customer (zero: no limit)."""
    return dt.timedelta(days=max(0, settings.SURVEY_MIN_DAYS_BETWEEN))


def counted_invitations(customer_id: int) -> QuerySet[SurveyInvitation]:
    """A customer's invitations that went out or are on their way (the spacing counts these)."""
    return SurveyInvitation.objects.filter(customer_id=customer_id).exclude(
        delivery_status__in=NOT_SENT
    )


def last_survey_sent(customer_id: int) -> SurveyInvitation | None:
    """The customer's newest invitation that went out or is on its way."""
    newest = customer_rows("last survey sent", _newest_invitation, customer_id)
    return newest[0] if newest else None


def _newest_invitation(customer_id: int) -> QuerySet[SurveyInvitation]:
    return counted_invitations(customer_id).order_by("-created_at", "-id")[:1]


def by_turns(customer_id: int, surveys: list[Survey]) -> list[Survey]:
    """`surveys` with those the customer was asked least recently first (never: first of all).

    With one survey per SURVEY_MIN_DAYS_BETWEEN days, a resolution set up for CSAT and CES
    sends one of them; taking turns keeps both answered. Ties keep the given order.
    """
    last_asked = dict(
        counted_invitations(customer_id)
        .filter(survey__in=surveys)
        .values("survey")
        .annotate(last=Max("created_at"))
        .values_list("survey", "last")
    )
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(surveys, key=lambda survey: last_asked.get(survey.pk) or never)


def next_survey_from(last_sent_at: dt.datetime) -> dt.date:
    """The first local day on which another survey may go to the customer."""
    return timezone.localdate(last_sent_at + survey_spacing())


def check_survey_spacing(*, customer_id: int, at: dt.datetime) -> None:
    """Raise SurveyTooSoon if the customer got a survey within the spacing around `at`.

    Both directions count, so that an invitation back-dated by the demo or an import obeys the
    rule as one created now does.
    """
    spacing = survey_spacing()
    if not spacing:
        return
    nearest = (
        counted_invitations(customer_id)
        .filter(created_at__gt=at - spacing, created_at__lt=at + spacing)
        .order_by("-created_at", "-id")
        .first()
    )
    if nearest is not None:
        raise SurveyTooSoon(
            last_sent_at=nearest.created_at, next_from=next_survey_from(nearest.created_at)
        )


@transaction.atomic
def create_invitation(
    *,
    survey: Survey,
    customer: Customer,
    cause: str = "",
    ticket: Ticket | None = None,
    **fields: Any,
) -> tuple[SurveyInvitation, bool]:
    """Invite a customer to a survey once per cause; return (invitation, created).

    An invitation about a ticket inherits its operator, channel and personalisation, so that
    answers can be cut by them. A customer gets at most one survey every
    SURVEY_MIN_DAYS_BETWEEN days whatever the cause: a new invitation within that time raises
    SurveyTooSoon (an invitation created as skipped, which sends nothing, is not held back).
    """
    if ticket is not None:
        fields.setdefault("operator", ticket.assignee)
        fields.setdefault("channel", ticket.channel)
        fields.setdefault("personalized", ticket.personalized)
        cause = cause or f"ticket:{ticket.pk}"
    if cause:
        existing = SurveyInvitation.objects.filter(
            survey=survey, customer=customer, cause=cause
        ).first()
        if existing is not None:
            return existing, False
    if fields.get("delivery_status", "") not in NOT_SENT:
        # One invitation at a time per customer: the row lock makes a resolution's task and an
        # operator's click that race each other see one another's invitation.
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        check_survey_spacing(customer_id=customer.pk, at=fields.get("created_at") or timezone.now())
    invitation = SurveyInvitation(
        survey=survey, customer=customer, cause=cause, ticket=ticket, **fields
    )
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        # Another worker invited the same customer for the same cause a moment ago.
        return SurveyInvitation.objects.get(survey=survey, customer=customer, cause=cause), False
    # Sent once the row is committed; with the broker down it stays pending for the sweep.
    enqueue_on_commit(deliver_task, kind="survey_invitation", pk=invitation.pk)
    return invitation, True


@transaction.atomic
def record_response(
    *,
    invitation: SurveyInvitation,
    score: int,
    comment: str = "",
    at: dt.datetime | None = None,
) -> tuple[SurveyResponse, bool]:
    """Record the answer to an invitation; a second answer changes nothing.

    Returns (response, created). Raises ValidationError naming `score` when it is off the
    survey's scale.
    """
    invitation = (
        SurveyInvitation.objects.select_for_update()
        .select_related("survey", "customer")
        .get(pk=invitation.pk)
    )
    existing = SurveyResponse.objects.filter(invitation=invitation).first()
    if existing is not None:
        return existing, False
    comment = comment.strip()
    response = SurveyResponse(
        invitation=invitation,
        score=score,
        comment=comment,
        sentiment=classify(comment, invitation.customer.language) if comment else "",
        answered_at=at or timezone.now(),
    )
    response.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            response.save()
    except IntegrityError:
        # Answered a moment ago through another request: the first answer stands.
        return SurveyResponse.objects.get(invitation=invitation), False
    return response, True


def relabel_sentiment(
    *, responses: QuerySet[SurveyResponse] | None = None, only_unlabelled: bool = False
) -> int:
    """Label the comments of `responses` (default: all) again; return how many changed.

    With `only_unlabelled`, comments that have a label keep it.
    """
    queryset = responses if responses is not None else SurveyResponse.objects.all()
    queryset = queryset.exclude(comment="").select_related("invitation__customer")
    if only_unlabelled:
        queryset = queryset.filter(sentiment="")
    changed: list[SurveyResponse] = []
    for response in queryset.iterator(chunk_size=SENTIMENT_BATCH_SIZE):
        label = classify(response.comment, response.invitation.customer.language)
        if label != response.sentiment:
            response.sentiment = label
            changed.append(response)
    with transaction.atomic():
        SurveyResponse.objects.bulk_update(changed, ["sentiment"], batch_size=SENTIMENT_BATCH_SIZE)
        send_rows_written(SurveyResponse, instance_rows(changed))
    return len(changed)
