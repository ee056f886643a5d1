"""Sending a survey from the customer card: once a day, active surveys only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Customer
from surveys.models import SurveyInvitation
from tests.factories import CustomerFactory, SurveyFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(full_name="Anna Ivanova")


def test_a_survey_is_sent_once_a_day_from_the_card(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    survey = SurveyFactory.create(kind="NPS")
    data = {"survey": survey.pk, "delivery_channel": "email"}

    first = operator_client.post(
        reverse("survey_card:send", args=[customer.pk]), data, headers=HTMX
    )
    again = operator_client.post(
        reverse("survey_card:send", args=[customer.pk]), data, headers=HTMX
    )

    assert (first.status_code, again.status_code) == (200, 422)
    invitation = SurveyInvitation.objects.get()
    assert invitation.operator == operator and invitation.personalized
    assert "already sent this survey today" in again.content.decode()
    assert 'id="section-satisfaction"' in first.content.decode()


def test_an_inactive_survey_cannot_be_sent(operator_client: Client, customer: Customer) -> None:
    survey = SurveyFactory.create(is_active=False)

    response = operator_client.post(
        reverse("survey_card:send", args=[customer.pk]),
        {"survey": survey.pk, "delivery_channel": "email"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert not SurveyInvitation.objects.exists()
