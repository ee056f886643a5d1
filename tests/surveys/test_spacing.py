"""One survey per customer every SURVEY_MIN_DAYS_BETWEEN days, whatever asks for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import issue_token
from crm.celery import app as celery_app
from customers.models import Channel, Customer
from surveys.models import Survey, SurveyInvitation
from surveys.services import SurveyTooSoon, create_invitation
from surveys.triggers import create_due_invitations, invite_after_ticket_resolved
from tests.factories import CustomerFactory, PurchaseFactory, SurveyFactory
from tickets.models import Status
from tickets.services import change_ticket_status, open_ticket

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def eager_celery() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(full_name="Anna Ivanova")


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def _resolve_ticket(customer: Customer, operator: User) -> int:
    ticket = open_ticket(customer=customer, subject="Noisy fridge", channel=Channel.CHAT)
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, actor=operator)
    return ticket.pk


def _sent_days_ago(customer: Customer, days: int, **fields: Any) -> SurveyInvitation:
    invitation, _created = create_invitation(
        survey=SurveyFactory.create(kind=Survey.Kind.NPS),
        customer=customer,
        cause=f"old:{days}",
        created_at=timezone.now() - dt.timedelta(days=days),
        **fields,
    )
    return invitation


def test_a_resolution_minutes_after_a_survey_from_the_card_sends_nothing_more(
    operator_client: Client,
    operator: User,
    customer: Customer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    nps = SurveyFactory.create(kind=Survey.Kind.NPS, trigger=Survey.Trigger.MANUAL)
    SurveyFactory.create(kind=Survey.Kind.CSAT, trigger=Survey.Trigger.TICKET_RESOLVED)
    SurveyFactory.create(kind=Survey.Kind.CES, trigger=Survey.Trigger.TICKET_RESOLVED)
    sent = operator_client.post(
        reverse("survey_card:send", args=[customer.pk]),
        {"survey": nps.pk, "delivery_channel": "email"},
        headers=HTMX,
    )
    assert sent.status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        _resolve_ticket(customer, operator)

    assert list(SurveyInvitation.objects.values_list("survey__kind", flat=True)) == ["NPS"]


def test_a_resolution_sends_one_survey_and_csat_and_ces_take_turns(
    operator: User, customer: Customer
) -> None:
    csat = SurveyFactory.create(kind=Survey.Kind.CSAT, trigger=Survey.Trigger.TICKET_RESOLVED)
    ces = SurveyFactory.create(kind=Survey.Kind.CES, trigger=Survey.Trigger.TICKET_RESOLVED)

    first = invite_after_ticket_resolved(ticket_id=_resolve_ticket(customer, operator))
    soon = invite_after_ticket_resolved(ticket_id=_resolve_ticket(customer, operator))
    SurveyInvitation.objects.update(created_at=timezone.now() - dt.timedelta(days=15))
    later = invite_after_ticket_resolved(ticket_id=_resolve_ticket(customer, operator))

    assert first is not None and first.survey == csat
    assert soon is None
    assert later is not None and later.survey == ces
    assert SurveyInvitation.objects.count() == 2


def test_an_operator_within_the_spacing_gets_a_form_error_saying_when(
    operator_client: Client, customer: Customer
) -> None:
    previous = _sent_days_ago(customer, 3)
    survey = SurveyFactory.create(kind=Survey.Kind.CSAT)

    response = operator_client.post(
        reverse("survey_card:send", args=[customer.pk]),
        {"survey": survey.pk, "delivery_channel": "email"},
        headers=HTMX,
    )

    assert response.status_code == 422
    text = response.content.decode()
    last = timezone.localtime(previous.created_at)
    assert "was sent a survey on" in text and f"{last:%m/%d/%Y}" in text
    next_day = timezone.localdate(previous.created_at + dt.timedelta(days=14))
    assert f"{next_day:%m/%d/%Y}" in text
    assert not SurveyInvitation.objects.filter(survey=survey).exists()


def test_after_the_spacing_a_survey_may_go_again(customer: Customer) -> None:
    _sent_days_ago(customer, 15)

    _invitation, created = create_invitation(
        survey=SurveyFactory.create(kind=Survey.Kind.CSAT), customer=customer, cause="later"
    )

    assert created


def test_the_spacing_is_a_setting(settings: Any, customer: Customer) -> None:
    _sent_days_ago(customer, 3)
    settings.SURVEY_MIN_DAYS_BETWEEN = 2

    _invitation, created = create_invitation(
        survey=SurveyFactory.create(kind=Survey.Kind.CSAT), customer=customer, cause="now"
    )

    assert created
    settings.SURVEY_MIN_DAYS_BETWEEN = 30
    with pytest.raises(SurveyTooSoon):
        create_invitation(
            survey=SurveyFactory.create(kind=Survey.Kind.CES), customer=customer, cause="again"
        )


@pytest.mark.parametrize(
    ("days", "language", "expected"),
    [
        (1, "en", "one survey every 1 day at most"),
        (3, "en", "one survey every 3 days at most"),
        (1, "ru", "не чаще одного опроса в 1 день,"),
        (3, "ru", "не чаще одного опроса в 3 дня,"),
        (14, "ru", "не чаще одного опроса в 14 дней,"),
        (21, "ru", "не чаще одного опроса в 21 день,"),
    ],
)
def test_the_refusal_says_the_spacing_with_its_plural(
    settings: Any, customer: Customer, days: int, language: str, expected: str
) -> None:
    settings.SURVEY_MIN_DAYS_BETWEEN = days
    _sent_days_ago(customer, 0)

    with translation.override(language), pytest.raises(SurveyTooSoon) as refused:
        create_invitation(
            survey=SurveyFactory.create(kind=Survey.Kind.CES), customer=customer, cause="again"
        )

    assert expected in refused.value.message_dict["customer"][0]


def test_an_invitation_that_never_went_out_does_not_count(customer: Customer) -> None:
    _sent_days_ago(customer, 1, delivery_status=SurveyInvitation.DeliveryStatus.SKIPPED)

    _invitation, created = create_invitation(
        survey=SurveyFactory.create(kind=Survey.Kind.CSAT), customer=customer, cause="now"
    )

    assert created


def test_purchase_and_periodic_surveys_skip_a_customer_surveyed_lately(
    customer: Customer,
) -> None:
    today = timezone.localdate()
    rested = CustomerFactory.create()
    for buyer in (customer, rested):
        PurchaseFactory.create(customer=buyer, purchased_at=timezone.now() - dt.timedelta(days=1))
    SurveyFactory.create(kind=Survey.Kind.CSAT, trigger=Survey.Trigger.PURCHASE, delay_days=1)
    SurveyFactory.create(kind=Survey.Kind.NPS, trigger=Survey.Trigger.PERIODIC)
    _sent_days_ago(customer, 2)

    create_due_invitations(on=today)

    assert not SurveyInvitation.objects.filter(customer=customer).exclude(cause="old:2").exists()
    # The rested customer had a purchase and is due an NPS: still one survey, not two.
    assert SurveyInvitation.objects.filter(customer=rested).count() == 1


def _api(user: User) -> APIClient:
    _token, key = issue_token(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_api_refuses_an_invitation_within_the_spacing(
    operator: User, customer: Customer
) -> None:
    _sent_days_ago(customer, 1)
    survey = SurveyFactory.create(kind=Survey.Kind.CSAT)

    response = _api(operator).post(
        "/api/v1/invitations/",
        {"survey": survey.pk, "customer": customer.pk, "cause": "api:1"},
        format="json",
    )

    assert response.status_code == 400
    assert "customer" in response.json()
    assert not SurveyInvitation.objects.filter(survey=survey).exists()


def test_the_admin_refuses_an_invitation_within_the_spacing(
    admin_user: User, customer: Customer
) -> None:
    _sent_days_ago(customer, 1)
    survey = SurveyFactory.create(kind=Survey.Kind.CSAT)
    client = Client()
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:surveys_surveyinvitation_add"),
        {"survey": survey.pk, "customer": customer.pk, "cause": "admin:1", "delivery_channel": ""},
    )

    assert response.status_code == 200
    assert "was sent a survey on" in response.content.decode()
    assert not SurveyInvitation.objects.filter(survey=survey).exists()


def test_the_card_says_when_the_last_survey_went_out(
    operator_client: Client, customer: Customer
) -> None:
    assert (
        "No survey sent yet."
        in operator_client.get(reverse("customers:card", args=[customer.pk])).content.decode()
    )
    previous = _sent_days_ago(customer, 3)

    text = operator_client.get(reverse("customers:card", args=[customer.pk])).content.decode()

    assert f"Last survey sent {timezone.localtime(previous.created_at):%m/%d/%Y}" in text


def test_the_cards_api_says_when_the_last_survey_went_out(
    operator: User, customer: Customer
) -> None:
    previous = _sent_days_ago(customer, 3)

    card = _api(operator).get(f"/api/v1/customers/{customer.pk}/card/").json()

    section = card["sections"]["satisfaction"]
    assert section["last_survey_at"].startswith(
        previous.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    )
    expected = timezone.localdate(previous.created_at + dt.timedelta(days=14)).isoformat()
    assert section["next_survey_from"] == expected
