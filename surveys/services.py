"""Survey writes: inviting a customer and recording their answer, each exactly once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Customer
from customers.signals import instance_rows, send_rows_written
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from surveys.sentiment import classify
from tickets.models import Ticket

SENTIMENT_BATCH_SIZE = 500  # rows per read and per UPDATE when labelling comments again


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
    answers can be cut by them.
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
    from crm.queue import enqueue_on_commit
    from surveys.delivery import deliver_invitation_task

    enqueue_on_commit(deliver_invitation_task, invitation_id=invitation.pk)
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
