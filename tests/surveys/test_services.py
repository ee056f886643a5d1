"""Survey services: an invitation per cause and an answer per invitation, each exactly once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from customers.models import Channel
from surveys.models import SurveyInvitation, SurveyResponse
from surveys.services import create_invitation, record_response
from tests.factories import (
    CustomerFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


def test_inviting_twice_for_one_cause_returns_the_first_invitation() -> None:
    survey, customer = SurveyFactory.create(), CustomerFactory.create()

    first, created_first = create_invitation(survey=survey, customer=customer, cause="purchase:7")
    again, created_again = create_invitation(survey=survey, customer=customer, cause="purchase:7")

    assert (created_first, created_again) == (True, False)
    assert again == first
    assert SurveyInvitation.objects.count() == 1


def test_another_cause_gets_another_invitation(settings: Any) -> None:
    settings.SURVEY_MIN_DAYS_BETWEEN = 0  # the spacing of surveys is tested in test_spacing.py
    survey, customer = SurveyFactory.create(), CustomerFactory.create()

    first, _ = create_invitation(survey=survey, customer=customer, cause="purchase:7")
    second, created = create_invitation(survey=survey, customer=customer, cause="purchase:8")

    assert created
    assert second != first


def test_invitations_without_a_cause_are_never_deduplicated(settings: Any) -> None:
    settings.SURVEY_MIN_DAYS_BETWEEN = 0  # the spacing of surveys is tested in test_spacing.py
    survey, customer = SurveyFactory.create(), CustomerFactory.create()

    create_invitation(survey=survey, customer=customer)
    _, created = create_invitation(survey=survey, customer=customer)

    assert created
    assert SurveyInvitation.objects.count() == 2


def test_an_invitation_about_a_ticket_inherits_its_operator_channel_and_personalisation(
    operator: User,
) -> None:
    ticket = TicketFactory.create(assignee=operator, channel=Channel.CHAT, personalized=True)

    invitation, created = create_invitation(
        survey=SurveyFactory.create(), customer=ticket.customer, ticket=ticket
    )

    invitation.refresh_from_db()
    assert created
    assert (invitation.operator, invitation.channel, invitation.personalized) == (
        operator,
        Channel.CHAT,
        True,
    )
    assert invitation.ticket == ticket
    assert invitation.cause == f"ticket:{ticket.pk}"


def test_a_ticket_invitation_is_made_once_per_ticket() -> None:
    ticket = TicketFactory.create()
    survey = SurveyFactory.create()

    first, _ = create_invitation(survey=survey, customer=ticket.customer, ticket=ticket)
    again, created = create_invitation(survey=survey, customer=ticket.customer, ticket=ticket)

    assert not created
    assert again == first


def test_explicit_fields_win_over_the_tickets(operator: User) -> None:
    ticket = TicketFactory.create(assignee=operator, channel=Channel.CHAT)

    invitation, _ = create_invitation(
        survey=SurveyFactory.create(),
        customer=ticket.customer,
        ticket=ticket,
        channel=Channel.PHONE,
    )

    assert invitation.channel == Channel.PHONE


def test_recording_an_answer_stores_it_once() -> None:
    invitation = SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="CSAT"))
    at = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)

    response, created = record_response(
        invitation=invitation, score=4, comment="  Quick and kind.  ", at=at
    )

    assert created
    stored = SurveyResponse.objects.get()
    assert (stored.pk, stored.score, stored.comment, stored.answered_at) == (
        response.pk,
        4,
        "Quick and kind.",
        at,
    )


def test_a_second_answer_returns_the_first_and_changes_nothing() -> None:
    invitation = SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="CSAT"))
    first, _ = record_response(invitation=invitation, score=2, comment="Slow")

    again, created = record_response(invitation=invitation, score=5, comment="Great")

    assert not created
    assert again == first
    stored = SurveyResponse.objects.get()
    assert (stored.score, stored.comment) == (2, "Slow")


def test_an_answer_off_the_scale_is_refused_and_not_stored() -> None:
    invitation = SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="CSAT"))

    with pytest.raises(ValidationError) as caught:
        record_response(invitation=invitation, score=6)

    assert "score" in caught.value.message_dict
    assert not SurveyResponse.objects.exists()
