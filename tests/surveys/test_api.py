"""Surveys, invitations and responses through the API."""

from __future__ import annotations

import pytest

from accounts.models import User
from surveys.models import SurveyInvitation, SurveyResponse
from tests.api_fixtures import ClientFor, grant
from tests.factories import CustomerFactory, SurveyFactory, SurveyInvitationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def test_supervisor_creates_a_survey_with_default_scale(
    client_for: ClientFor, supervisor: User, operator: User
) -> None:
    created = client_for(supervisor).post(
        "/api/v1/surveys/", {"kind": "NPS", "name": "Quarterly"}, format="json"
    )
    by_operator = client_for(operator).post("/api/v1/surveys/", {"kind": "CSAT"}, format="json")
    bad_scale = client_for(supervisor).post(
        "/api/v1/surveys/", {"kind": "NPS", "scale_min": 1, "scale_max": 5}, format="json"
    )
    bad_questions = client_for(supervisor).post(
        "/api/v1/surveys/", {"kind": "CSAT", "questions": ["how?"]}, format="json"
    )

    assert created.status_code == 201, created.data
    assert (created.data["scale_min"], created.data["scale_max"]) == (0, 10)
    assert by_operator.status_code == 403
    assert bad_scale.status_code == 400
    assert bad_questions.status_code == 400 and "questions" in bad_questions.data


def test_invitation_once_per_cause(client_for: ClientFor, operator: User) -> None:
    survey = SurveyFactory.create()
    customer = CustomerFactory.create()
    body = {"survey": survey.pk, "customer": customer.pk, "cause": "manual:1"}
    client = client_for(operator)

    first = client.post("/api/v1/invitations/", body, format="json")
    again = client.post("/api/v1/invitations/", body, format="json")

    assert first.status_code == 201, first.data
    assert again.status_code == 200
    assert first.data["id"] == again.data["id"]
    assert SurveyInvitation.objects.count() == 1


def test_invitation_about_another_customers_ticket_is_refused(
    client_for: ClientFor, operator: User
) -> None:
    from tests.factories import TicketFactory

    survey = SurveyFactory.create()
    ticket = TicketFactory.create()

    response = client_for(operator).post(
        "/api/v1/invitations/",
        {"survey": survey.pk, "customer": CustomerFactory.create().pk, "ticket": ticket.pk},
        format="json",
    )

    assert response.status_code == 400 and "ticket" in response.data


def test_response_is_recorded_once_and_checked_against_the_scale(
    client_for: ClientFor, integration: User, operator: User
) -> None:
    invitation = SurveyInvitationFactory.create()
    user = grant(integration, "surveys.add_surveyresponse", "surveys.view_surveyresponse")
    client = client_for(user)

    off_scale = client.post(
        "/api/v1/responses/", {"invitation": invitation.pk, "score": 9}, format="json"
    )
    first = client.post(
        "/api/v1/responses/",
        {"invitation": invitation.pk, "score": 5, "comment": "Quick"},
        format="json",
    )
    again = client.post(
        "/api/v1/responses/", {"invitation": invitation.pk, "score": 1}, format="json"
    )
    by_operator = client_for(operator).post(
        "/api/v1/responses/", {"invitation": invitation.pk, "score": 4}, format="json"
    )
    listed = client_for(operator).get("/api/v1/responses/", {"customer": invitation.customer_id})

    assert off_scale.status_code == 400 and "score" in off_scale.data
    assert first.status_code == 201, first.data
    assert again.status_code == 200 and again.data["score"] == 5
    assert by_operator.status_code == 403
    assert len(listed.data["results"]) == 1
    assert SurveyResponse.objects.get().score == 5
