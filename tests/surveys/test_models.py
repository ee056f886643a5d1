"""Surveys, invitations and responses: scale defaults, tokens, once-only rules, score bounds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.models import (
    DEFAULT_INVITATION_TTL_DAYS,
    NPSBand,
    Survey,
    SurveyInvitation,
    SurveyResponse,
    nps_band,
)
from tests.factories import (
    CustomerFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)


# --- Survey ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "scale", "threshold"),
    [
        ({"kind": "CSAT"}, (1, 5), 4),
        ({"kind": "CSAT", "scale_max": 10}, (1, 10), 8),
        ({"kind": "CSAT", "scale_min": 1, "scale_max": 10}, (1, 10), 8),
        ({"kind": "CES"}, (1, 7), 5),
        ({"kind": "CES", "easy_end": "low"}, (1, 7), 3),
    ],
)
def test_a_survey_takes_its_scale_and_threshold_from_its_kind(
    fields: dict[str, object], scale: tuple[int, int], threshold: int
) -> None:
    survey = Survey.objects.create(**fields)

    survey.refresh_from_db()
    assert (survey.scale_min, survey.scale_max) == scale
    assert survey.satisfied_threshold == threshold


def test_nps_is_asked_from_zero_to_ten() -> None:
    survey = Survey.objects.create(kind="NPS")

    assert (survey.scale_min, survey.scale_max) == (0, 10)


def test_an_explicit_threshold_is_kept() -> None:
    survey = Survey.objects.create(kind="CSAT", satisfied_threshold=5)

    assert survey.satisfied_threshold == 5


@pytest.mark.parametrize(
    ("fields", "satisfied", "unsatisfied"),
    [
        ({"kind": "CSAT"}, [4, 5], [1, 2, 3]),
        ({"kind": "CSAT", "scale_max": 10}, [8, 9, 10], [1, 5, 7]),
        ({"kind": "CES"}, [5, 6, 7], [1, 3, 4]),
        ({"kind": "CES", "easy_end": "low"}, [1, 2, 3], [4, 5, 7]),
    ],
)
def test_scores_from_the_threshold_towards_the_good_end_count_as_satisfied(
    fields: dict[str, object], satisfied: list[int], unsatisfied: list[int]
) -> None:
    survey = Survey.objects.create(**fields)

    assert all(survey.is_satisfied(score) for score in satisfied)
    assert not any(survey.is_satisfied(score) for score in unsatisfied)


def test_nps_on_another_scale_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.create(kind="NPS", scale_min=1, scale_max=10)


@pytest.mark.parametrize(("low", "high"), [(5, 5), (5, 1)])
def test_a_scale_must_go_up(low: int, high: int) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.create(kind="CSAT", scale_min=low, scale_max=high, satisfied_threshold=low)


def test_full_clean_explains_a_scale_that_does_not_go_up() -> None:
    survey = Survey(kind="CSAT", scale_min=5, scale_max=5)

    with pytest.raises(ValidationError) as caught:
        survey.full_clean()

    assert "The lowest score must be below the highest." in caught.value.messages


def test_a_threshold_off_the_scale_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.create(kind="CSAT", satisfied_threshold=6)


def test_a_question_in_an_unknown_language_is_refused() -> None:
    survey = Survey(kind="CSAT", questions={"xx": "?"})

    with pytest.raises(ValidationError) as caught:
        survey.full_clean()

    assert "questions" in caught.value.message_dict


def test_the_surveys_own_question_is_asked_in_its_language() -> None:
    survey = SurveyFactory.create(
        kind="CSAT", questions={"en": "Did we help?", "ru": "Мы помогли?"}
    )

    assert survey.question_for("en") == "Did we help?"
    assert survey.question_for("ru") == "Мы помогли?"


def test_a_language_without_its_own_question_gets_the_built_in_one() -> None:
    survey = SurveyFactory.create(kind="NPS", questions={"en": "Would you recommend us?"})

    question = survey.question_for("ru")

    assert question
    assert question != "Would you recommend us?"
    assert question == SurveyFactory.create(kind="NPS", questions={}).question_for("ru")


@pytest.mark.parametrize("kind", ["CSAT", "NPS", "CES"])
def test_every_kind_has_a_built_in_question(kind: str) -> None:
    assert SurveyFactory.create(kind=kind, questions={}).question_for("en").endswith("?")


# --- SurveyInvitation ------------------------------------------------------------------------


def test_an_invitation_gets_a_long_secret_token_on_creation() -> None:
    invitation = SurveyInvitation.objects.create(
        survey=SurveyFactory.create(), customer=CustomerFactory.create()
    )

    assert len(invitation.token) >= 40
    assert SurveyInvitation.objects.get(token=invitation.token) == invitation


def test_every_invitation_gets_a_different_token() -> None:
    survey = SurveyFactory.create()

    tokens = {SurveyInvitationFactory.create(survey=survey).token for _ in range(20)}

    assert len(tokens) == 20


def test_two_invitations_cannot_share_a_token() -> None:
    first = SurveyInvitationFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyInvitationFactory.create(token=first.token)


def test_an_invitation_expires_after_the_surveys_validity() -> None:
    survey = SurveyFactory.create(invitation_ttl_days=3)

    invitation = SurveyInvitationFactory.create(survey=survey, created_at=T0)

    assert invitation.expires_at == T0 + dt.timedelta(days=3)
    assert not invitation.is_expired(now=T0 + dt.timedelta(days=3) - dt.timedelta(seconds=1))
    assert invitation.is_expired(now=T0 + dt.timedelta(days=3))


def test_an_invitation_without_created_at_expires_the_default_days_from_now() -> None:
    before = timezone.now()

    invitation = SurveyInvitationFactory.create()

    assert invitation.expires_at - invitation.created_at == dt.timedelta(
        days=DEFAULT_INVITATION_TTL_DAYS
    )
    assert invitation.created_at >= before


def test_a_customer_is_invited_once_per_survey_and_cause() -> None:
    first = SurveyInvitationFactory.create(cause="ticket:42")

    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyInvitationFactory.create(
            survey=first.survey, customer=first.customer, cause="ticket:42"
        )


def test_other_causes_surveys_and_customers_get_their_own_invitation() -> None:
    first = SurveyInvitationFactory.create(cause="ticket:42")

    SurveyInvitationFactory.create(survey=first.survey, customer=first.customer, cause="ticket:43")
    SurveyInvitationFactory.create(customer=first.customer, cause="ticket:42")
    SurveyInvitationFactory.create(survey=first.survey, cause="ticket:42")

    assert SurveyInvitation.objects.filter(cause="ticket:42").count() == 3


def test_invitations_without_a_cause_may_repeat() -> None:
    first = SurveyInvitationFactory.create(cause="")

    SurveyInvitationFactory.create(survey=first.survey, customer=first.customer, cause="")

    assert SurveyInvitation.objects.filter(customer=first.customer).count() == 2


# --- SurveyResponse --------------------------------------------------------------------------


@pytest.mark.parametrize("score", [0, 6, -1, 100])
def test_a_score_off_the_scale_is_refused_naming_score_and_nothing_is_saved(score: int) -> None:
    invitation = SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="CSAT"))

    with pytest.raises(ValidationError) as caught:
        SurveyResponse.objects.create(invitation=invitation, score=score)

    assert caught.value.message_dict == {"score": ["Choose a score from 1 to 5."]}
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize("score", [1, 5])
def test_a_score_at_either_end_of_the_scale_is_accepted(score: int) -> None:
    invitation = SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="CSAT"))

    response = SurveyResponse.objects.create(invitation=invitation, score=score)

    assert SurveyResponse.objects.get().score == response.score == score


@pytest.mark.parametrize("score", [0, 10])
def test_nps_accepts_both_ends_of_zero_to_ten(score: int) -> None:
    invitation = SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="NPS"))

    SurveyResponse.objects.create(invitation=invitation, score=score)

    assert SurveyResponse.objects.get().score == score


def test_full_clean_refuses_a_score_off_the_scale() -> None:
    invitation = SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="CES"))

    with pytest.raises(ValidationError) as caught:
        SurveyResponse(invitation=invitation, score=8).full_clean()

    assert "score" in caught.value.message_dict


def test_an_invitation_is_answered_once() -> None:
    response = SurveyResponseFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.create(invitation=response.invitation, score=3)


def test_a_response_created_with_only_invitation_and_score_is_answered_now() -> None:
    invitation = SurveyInvitationFactory.create()
    before = timezone.now()

    response = SurveyResponse.objects.create(invitation=invitation, score=4)

    response.refresh_from_db()
    assert before <= response.answered_at <= timezone.now()
    assert response.comment == ""


def test_a_sentiment_needs_a_comment() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponseFactory.create(sentiment=SurveyResponse.Sentiment.POSITIVE, comment="")


def test_nps_bands_are_reichhelds_and_match_the_surveys_satisfied_threshold() -> None:
    bands = [nps_band(score) for score in range(11)]
    assert bands == [NPSBand.DETRACTOR] * 7 + [NPSBand.PASSIVE] * 2 + [NPSBand.PROMOTER] * 2
    survey = Survey(kind="NPS")
    survey.apply_defaults()
    assert [survey.is_satisfied(s) for s in range(11)] == [b == NPSBand.PROMOTER for b in bands]
