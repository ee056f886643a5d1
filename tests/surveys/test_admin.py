"""The surveys admin: questions per language, scale defaults, invitations and responses."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.forms import SurveyForm
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tests.admin_fixtures import admin_url, form_errors
from tests.factories import (
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_survey_form_stores_one_question_per_language_and_defaults_the_scale() -> None:
    form = SurveyForm(
        data={
            "name": "After support",
            "kind": "CSAT",
            "question_en": "  How did we do?  ",
            "question_ru": "",
            "easy_end": "high",
            "trigger": "manual",
            "delay_days": 0,
            "invitation_ttl_days": 14,
        }
    )
    assert form.is_valid(), form.errors
    assert form.fields["question_ru"].label == "Question (Russian)"
    survey = form.save()
    survey.refresh_from_db()
    assert survey.questions == {"en": "How did we do?"}
    assert (survey.scale_min, survey.scale_max, survey.satisfied_threshold) == (1, 5, 4)
    assert survey.question_for("ru") != "How did we do?"  # the built-in Russian question


def test_survey_form_shows_stored_questions_and_clears_a_blanked_one() -> None:
    survey = SurveyFactory.create(
        kind="NPS", questions={"en": "Recommend us?", "ru": "Порекомендуете?"}
    )
    form = SurveyForm(instance=survey)
    assert form["question_en"].value() == "Recommend us?"
    assert form["question_ru"].value() == "Порекомендуете?"

    data = {name: form[name].value() for name in form.fields}
    data.update({"question_ru": "", "repeat_after_days": ""})
    form = SurveyForm(data=data, instance=survey)
    assert form.is_valid(), form.errors
    form.save()
    survey.refresh_from_db()
    assert survey.questions == {"en": "Recommend us?"}
    assert (survey.scale_min, survey.scale_max) == (0, 10)


def test_survey_admin_adds_a_survey_with_questions_and_kind_defaults(
    admin_client_: Client,
) -> None:
    response = admin_client_.post(
        admin_url(Survey, "add"),
        {
            "name": "Effort",
            "kind": "CES",
            "is_active": "on",
            "question_en": "Was it easy?",
            "question_ru": "Было легко?",
            "scale_min": "",
            "scale_max": "",
            "satisfied_threshold": "",
            "easy_end": "high",
            "trigger": "ticket_resolved",
            "delay_days": 0,
            "invitation_ttl_days": 14,
        },
    )
    assert response.status_code == 302, form_errors(response)
    survey = Survey.objects.get(name="Effort")
    assert survey.questions == {"en": "Was it easy?", "ru": "Было легко?"}
    assert (survey.scale_min, survey.scale_max, survey.satisfied_threshold) == (1, 7, 5)


def test_invitation_list_shows_whether_it_was_answered(admin_client_: Client) -> None:
    answered = SurveyResponseFactory.create(score=4).invitation
    waiting = SurveyInvitationFactory.create()
    response = admin_client_.get(admin_url(SurveyInvitation, "changelist"), {"answered": "no"})
    assert list(response.context["cl"].result_list) == [waiting]
    response = admin_client_.get(admin_url(SurveyInvitation, "change", answered.pk))
    page = response.content.decode()
    assert answered.token in page
    assert "token" not in response.context["adminform"].form.fields


def test_new_invitation_about_a_ticket_takes_its_operator_and_channel(
    admin_client_: Client,
) -> None:
    survey = SurveyFactory.create()
    ticket = TicketFactory.create(assignee=UserFactory.create(), channel="chat")
    response = admin_client_.post(
        admin_url(SurveyInvitation, "add"),
        {
            "survey": survey.pk,
            "customer": ticket.customer_id,
            "ticket": ticket.pk,
            "delivery_channel": "email",
        },
    )
    assert response.status_code == 302, form_errors(response)
    invitation = SurveyInvitation.objects.get()
    assert (invitation.operator, invitation.channel, invitation.cause) == (
        ticket.assignee,
        "chat",
        f"ticket:{ticket.pk}",
    )
    assert len(invitation.token) >= 40


def test_responses_filter_by_survey_kind_and_sentiment(admin_client_: Client) -> None:
    nps = SurveyResponseFactory.create(
        invitation=SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="NPS")),
        score=9,
        comment="Great",
        sentiment="positive",
    )
    SurveyResponseFactory.create(score=2, comment="Slow", sentiment="negative")
    url = admin_url(SurveyResponse, "changelist")
    by_kind = admin_client_.get(url, {"invitation__survey__kind__exact": "NPS"})
    by_sentiment = admin_client_.get(url, {"sentiment__exact": "positive"})
    assert list(by_kind.context["cl"].result_list) == [nps]
    assert list(by_sentiment.context["cl"].result_list) == [nps]
