"""Survey triggers: resolved tickets, purchases, the periodic NPS and manual sending."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from crm.celery import app as celery_app
from customers.models import Channel
from surveys.models import Survey, SurveyInvitation
from surveys.triggers import create_due_invitations, invite_after_ticket_resolved, invite_manually
from tests.factories import CustomerFactory, PurchaseFactory, SurveyFactory
from tickets.models import Status, Ticket
from tickets.services import change_ticket_status, open_ticket

pytestmark = pytest.mark.django_db

ZONE = timezone.get_default_timezone()
DAY = dt.date(2026, 11, 20)


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run tasks inline even when CI sets a broker (REDIS_URL)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _resolved_ticket(operator: User | None = None, **customer: Any) -> Ticket:
    ticket = open_ticket(
        customer=CustomerFactory.create(**customer),
        subject="Fridge is noisy",
        channel=Channel.CHAT,
        assignee=operator,
        personalized=True,
    )
    return change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, actor=operator)


def _csat(**fields: Any) -> Survey:
    return SurveyFactory.create(
        kind=Survey.Kind.CSAT, trigger=Survey.Trigger.TICKET_RESOLVED, **fields
    )


# --- Ticket resolved ------------------------------------------------------------------------


def test_resolving_a_ticket_invites_its_customer_through_the_task(
    operator: User, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    csat = _csat()
    ces = SurveyFactory.create(kind=Survey.Kind.CES, trigger=Survey.Trigger.TICKET_RESOLVED)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _resolved_ticket(operator, preferred_channel=Channel.SMS)
    invitations = SurveyInvitation.objects.filter(ticket=ticket).order_by("survey__kind")
    # One survey per SURVEY_MIN_DAYS_BETWEEN days: CSAT on a first resolution, not CES too.
    assert [i.survey_id for i in invitations] == [csat.pk]
    assert ces.invitations.count() == 0
    for invitation in invitations:
        assert invitation.cause == f"ticket:{ticket.pk}"
        assert invitation.operator == operator
        assert invitation.channel == Channel.CHAT
        assert invitation.personalized is True
        assert invitation.delivery_channel == Channel.SMS
        # Delivery ran on commit too (eager): with no phone on file there is nothing to send to.
        assert invitation.delivery_status == SurveyInvitation.DeliveryStatus.SKIPPED


def test_nothing_is_invited_before_the_resolution_commits(
    operator: User, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    _csat()
    with django_capture_on_commit_callbacks(execute=False):
        ticket = _resolved_ticket(operator)
    assert not SurveyInvitation.objects.filter(ticket=ticket).exists()


def test_a_ticket_resolved_twice_is_surveyed_once(operator: User) -> None:
    _csat()
    ticket = _resolved_ticket(operator)
    first = invite_after_ticket_resolved(ticket_id=ticket.pk)
    change_ticket_status(ticket=ticket, to_status=Status.OPEN)
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED)
    again = invite_after_ticket_resolved(ticket_id=ticket.pk)
    assert first is not None and again == first
    assert SurveyInvitation.objects.filter(ticket=ticket).count() == 1


def test_an_unresolved_or_unknown_ticket_invites_nobody() -> None:
    _csat()
    ticket = open_ticket(customer=CustomerFactory.create(), subject="x", channel=Channel.PHONE)
    assert invite_after_ticket_resolved(ticket_id=ticket.pk) is None
    assert invite_after_ticket_resolved(ticket_id=987654) is None
    assert not SurveyInvitation.objects.exists()


@pytest.mark.parametrize(
    "customer",
    [{"consent_reminders": False}, {"anonymised_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}],
)
def test_customers_without_consent_or_anonymised_are_not_invited(
    operator: User, customer: dict[str, Any]
) -> None:
    _csat()
    ticket = _resolved_ticket(operator, **customer)
    assert invite_after_ticket_resolved(ticket_id=ticket.pk) is None
    assert not SurveyInvitation.objects.exists()


def test_inactive_and_delayed_surveys_are_not_sent_at_resolution(operator: User) -> None:
    _csat(is_active=False)
    _csat(delay_days=2)
    ticket = _resolved_ticket(operator)
    assert invite_after_ticket_resolved(ticket_id=ticket.pk) is None


def test_a_delayed_ticket_survey_is_created_by_the_daily_run(operator: User) -> None:
    survey = _csat(delay_days=2)
    resolved_at = dt.datetime.combine(DAY - dt.timedelta(days=2), dt.time(15), tzinfo=ZONE)
    ticket = open_ticket(
        customer=CustomerFactory.create(),
        subject="x",
        channel=Channel.EMAIL,
        created_at=resolved_at - dt.timedelta(hours=1),
    )
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, at=resolved_at)
    assert create_due_invitations(on=DAY - dt.timedelta(days=1)) == 0
    assert create_due_invitations(on=DAY) == 1
    assert create_due_invitations(on=DAY) == 0
    invitation = SurveyInvitation.objects.get(survey=survey)
    assert invitation.ticket == ticket and invitation.channel == Channel.EMAIL


# --- Purchase -------------------------------------------------------------------------------


def test_purchase_surveys_go_out_delay_days_after_the_purchase() -> None:
    survey = SurveyFactory.create(trigger=Survey.Trigger.PURCHASE, delay_days=3)
    bought = dt.datetime.combine(DAY - dt.timedelta(days=3), dt.time(23, 30), tzinfo=ZONE)
    purchase = PurchaseFactory.create(purchased_at=bought, channel="phone")
    too_recent = PurchaseFactory.create(purchased_at=bought + dt.timedelta(days=1))
    assert create_due_invitations(on=DAY) == 1
    invitation = SurveyInvitation.objects.get(survey=survey)
    assert invitation.purchase == purchase
    assert invitation.customer == purchase.customer
    assert invitation.cause == f"purchase:{purchase.pk}"
    assert invitation.channel == Channel.PHONE
    assert invitation.expires_at > invitation.created_at
    assert len(invitation.token) >= 40
    assert not SurveyInvitation.objects.filter(purchase=too_recent).exists()
    # Idempotent, and the next day catches only what is newly due.
    assert create_due_invitations(on=DAY) == 0
    assert create_due_invitations(on=DAY + dt.timedelta(days=1)) == 1


def test_a_missed_day_is_caught_up() -> None:
    SurveyFactory.create(trigger=Survey.Trigger.PURCHASE, delay_days=1)
    bought = dt.datetime.combine(DAY - dt.timedelta(days=4), dt.time(12), tzinfo=ZONE)
    PurchaseFactory.create(purchased_at=bought)
    assert create_due_invitations(on=DAY) == 1


def test_refunded_purchases_and_customers_without_consent_get_no_survey() -> None:
    SurveyFactory.create(trigger=Survey.Trigger.PURCHASE, delay_days=0)
    bought = dt.datetime.combine(DAY, dt.time(10), tzinfo=ZONE)
    PurchaseFactory.create(purchased_at=bought, status="refunded")
    PurchaseFactory.create(
        purchased_at=bought, customer=CustomerFactory.create(consent_reminders=False)
    )
    assert create_due_invitations(on=DAY) == 0


# --- Periodic NPS ---------------------------------------------------------------------------


def test_periodic_nps_asks_each_buyer_at_most_once_per_interval() -> None:
    nps = SurveyFactory.create(
        kind=Survey.Kind.NPS, trigger=Survey.Trigger.PERIODIC, repeat_after_days=90
    )
    buyer = PurchaseFactory.create().customer
    CustomerFactory.create()  # never bought: not asked
    with pytest.MonkeyPatch.context() as patch:
        first_run = dt.datetime.combine(DAY, dt.time(6), tzinfo=ZONE)
        patch.setattr(timezone, "now", lambda: first_run)
        assert create_due_invitations(on=DAY) == 1
        assert create_due_invitations(on=DAY) == 0
        later = DAY + dt.timedelta(days=89)
        patch.setattr(timezone, "now", lambda: dt.datetime.combine(later, dt.time(6), tzinfo=ZONE))
        assert create_due_invitations(on=later) == 0
        again = DAY + dt.timedelta(days=90)
        patch.setattr(timezone, "now", lambda: dt.datetime.combine(again, dt.time(6), tzinfo=ZONE))
        assert create_due_invitations(on=again) == 1
    causes = list(
        SurveyInvitation.objects.filter(survey=nps, customer=buyer)
        .order_by("created_at")
        .values_list("cause", flat=True)
    )
    assert causes == [f"periodic:{DAY.isoformat()}", f"periodic:{again.isoformat()}"]


# --- Manual ---------------------------------------------------------------------------------


def test_a_manual_survey_is_sent_once_a_day_per_customer(settings: Any) -> None:
    settings.SURVEY_MIN_DAYS_BETWEEN = 0  # the spacing of surveys is tested in test_spacing.py
    survey = SurveyFactory.create(trigger=Survey.Trigger.MANUAL)
    customer = CustomerFactory.create()
    first, created = invite_manually(survey=survey, customer=customer, on=DAY)
    again, created_again = invite_manually(survey=survey, customer=customer, on=DAY)
    assert (created, created_again) == (True, False) and first == again
    _next, created_next = invite_manually(
        survey=survey, customer=customer, on=DAY + dt.timedelta(days=1)
    )
    assert created_next


def test_a_manual_survey_to_a_customer_without_consent_is_recorded_as_skipped() -> None:
    survey = SurveyFactory.create(trigger=Survey.Trigger.MANUAL)
    customer = CustomerFactory.create(consent_reminders=False)
    invitation, _created = invite_manually(survey=survey, customer=customer, on=DAY)
    assert invitation.delivery_status == SurveyInvitation.DeliveryStatus.SKIPPED


def test_a_broker_that_is_down_does_not_fail_the_resolution_and_the_sweep_invites_in_minutes(
    operator: User, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import OperationalError

    from core.outbox.engine import sweep_kind
    from surveys import tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.invite_after_ticket_resolved, "apply_async", broker_down)
    _csat()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _resolved_ticket(operator)
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert not SurveyInvitation.objects.exists()
    assert ticket.resolved_at is not None
    # The outbox sweep, not tomorrow's daily run: within its grace it leaves the task its turn,
    # a few minutes later it creates the invitation (and counts it due to send).
    assert sweep_kind("survey_invitation", now=ticket.resolved_at + dt.timedelta(seconds=30)) == {
        "recovered": 0,
        "created": 0,
        "batches": 0,
    }
    later = ticket.resolved_at + dt.timedelta(minutes=3)
    assert sweep_kind("survey_invitation", now=later)["created"] == 1
    assert SurveyInvitation.objects.get().ticket == ticket
    assert sweep_kind("survey_invitation", now=later)["created"] == 0
