"""The job registry, `run_job`, the beat schedule and fail-soft enqueueing."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import pytest
from celery import Celery
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.outbox.tasks import deliver_due_task, deliver_task
from core.queue import enqueue
from crm.celery import app as celery_app
from crm.jobs import JOBS, run_job, run_job_task
from customers.models import Purchase, Reminder
from metrics.models import MetricSnapshot
from surveys.models import Survey, SurveyInvitation
from tests.delivery_fixtures import (  # noqa: F401
    eager_celery,
    moscow,
    recording_backend,
)
from tests.factories import (
    EmailFactory,
    PurchaseFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
)

DAY = dt.date(2026, 3, 2)
NOON = moscow(2026, 3, 2, 12, 0)
# A closed port on loopback: connecting is refused at once.
DEAD_BROKER = "redis://127.0.0.1:1/4"


@pytest.fixture
def frozen_noon(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOON)
    return NOON


def purchase_with_warranty_ending(ends_on: dt.date) -> Purchase:
    purchase = PurchaseFactory.create()
    EmailFactory.create(customer=purchase.customer)
    Purchase.objects.filter(pk=purchase.pk).update(warranty_ends_on=ends_on)
    return purchase


def test_the_registry_has_the_four_jobs() -> None:
    assert set(JOBS) >= {"reminders", "outbox", "surveys", "snapshots"}


def test_every_beat_entry_runs_a_registered_job_on_a_crontab() -> None:
    assert settings.CELERY_BEAT_SCHEDULE
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks
        assert entry["kwargs"]["name"] in JOBS  # type: ignore[index]
        # Daily jobs on the clock; the outbox sweep every few seconds (a dead worker's
        # messages are back within a minute).
        assert isinstance(entry["schedule"], crontab | dt.timedelta)
    assert {e["kwargs"]["name"] for e in settings.CELERY_BEAT_SCHEDULE.values()} == set(JOBS)  # type: ignore[index]
    assert settings.CELERY_TIMEZONE == settings.TIME_ZONE


def test_the_worker_knows_every_delivery_task() -> None:
    assert {deliver_task.name, deliver_due_task.name, "crm.run_job"} <= set(celery_app.tasks)


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_celery", "recording_backend", "frozen_noon")
def test_run_job_reminders_creates_sends_and_prints_its_summary(capsys) -> None:
    purchase_with_warranty_ending(DAY + dt.timedelta(days=7))
    call_command("run_job", "reminders", "--date", "2026-03-02")
    assert capsys.readouterr().out.strip() == (
        "reminders: day=2026-03-02 due=1 created=1 enqueued=1"
    )
    assert Reminder.objects.get().delivery_status == Reminder.DeliveryStatus.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_celery", "recording_backend", "frozen_noon")
def test_running_the_job_twice_gives_each_reminder_once() -> None:
    purchase_with_warranty_ending(DAY + dt.timedelta(days=7))
    purchase_with_warranty_ending(DAY + dt.timedelta(days=30))
    first = run_job("reminders", on=DAY)
    second = run_job("reminders", on=DAY)
    assert (first["created"], second["created"]) == (2, 0)
    assert second["enqueued"] == 0  # nothing pending is left to send
    assert Reminder.objects.filter(delivery_status="sent").count() == 2
    assert len(mail.outbox) == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_celery", "recording_backend", "frozen_noon")
def test_the_celery_task_runs_a_job_for_a_given_day() -> None:
    purchase_with_warranty_ending(DAY + dt.timedelta(days=30))
    summary = run_job_task.delay(name="reminders", on="2026-03-02").get()
    assert summary["created"] == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_celery", "recording_backend", "frozen_noon")
def test_the_outbox_sweep_recovers_stuck_rows_and_sends_what_is_due(settings) -> None:
    settings.OUTBOX_CLAIM_LEASE_SECONDS = 45
    purchase_with_warranty_ending(DAY + dt.timedelta(days=7))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deliver_due_task, "apply_async", lambda **kwargs: None)
        run_job("reminders", on=DAY)  # created, but the message was "lost" on the way
    stuck = Reminder.objects.get()
    Reminder.objects.filter(pk=stuck.pk).update(
        delivery_status="sending",
        claimed_at=NOON - dt.timedelta(minutes=1),
        claim_token=uuid.uuid4(),
        attempts=1,
    )
    summary = run_job("outbox", on=DAY)
    assert summary == {"recovered": 1, "created": 0, "batches": 1, "enqueued": 1}
    assert Reminder.objects.get().delivery_status == Reminder.DeliveryStatus.SENT
    assert len(mail.outbox) == 1


def test_run_job_refuses_an_unknown_name() -> None:
    with pytest.raises(CommandError, match="Unknown job 'remind'"):
        call_command("run_job", "remind")


@pytest.mark.parametrize("value", ["2026-02-30", "tomorrow", "02.03.2026"])
def test_run_job_refuses_a_bad_date(value: str) -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_job", "reminders", "--date", value)


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_celery", "recording_backend", "frozen_noon")
def test_the_surveys_job_invites_once_and_the_sweep_sends_the_invitation() -> None:
    survey = SurveyFactory.create(
        kind=Survey.Kind.CSAT, trigger=Survey.Trigger.PURCHASE, delay_days=3
    )
    purchase = PurchaseFactory.create(purchased_at=moscow(2026, 2, 27, 15, 0))
    EmailFactory.create(customer=purchase.customer)

    first = run_job("surveys", on=DAY)
    second = run_job("surveys", on=DAY)
    sweep = run_job("outbox", on=DAY)

    assert (first, second) == (
        {"day": "2026-03-02", "created": 1},
        {"day": "2026-03-02", "created": 0},
    )
    invitation = SurveyInvitation.objects.get()
    assert (invitation.survey, invitation.purchase) == (survey, purchase)
    assert sweep["enqueued"] == 1
    invitation.refresh_from_db()
    assert invitation.delivery_status == SurveyInvitation.DeliveryStatus.SENT
    assert len(mail.outbox) == 1
    assert f"/s/{invitation.token}/" in mail.outbox[0].body


@pytest.mark.django_db
def test_the_snapshots_job_stores_the_day_before_once() -> None:
    survey = SurveyFactory.create(kind=Survey.Kind.CSAT)
    for score in (5, 4, 2):
        SurveyResponseFactory.create(
            invitation=SurveyInvitationFactory.create(survey=survey),
            score=score,
            answered_at=moscow(2026, 3, 1, 14, 0),
        )

    first = run_job("snapshots", on=DAY)
    again = run_job("snapshots", on=DAY)

    assert first == again
    assert first["day"] == "2026-03-01"
    csat = MetricSnapshot.objects.get(day=dt.date(2026, 3, 1), metric="csat", dimension="")
    assert (csat.value, csat.n) == (pytest.approx(200 / 3), 3)
    assert MetricSnapshot.objects.filter(metric="csat", dimension="").count() == 1


def test_enqueue_fails_soft_and_fast_when_the_broker_is_down(caplog) -> None:
    dead = Celery("dead-broker")
    dead.config_from_object("django.conf:settings", namespace="CELERY")
    dead.conf.update(broker_url=DEAD_BROKER, task_always_eager=False)

    @dead.task(name="probe")
    def probe(reminder_id: int) -> None:
        raise AssertionError("never runs")

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="core.queue"):
        assert enqueue(probe, reminder_id=7) is False
    assert time.monotonic() - started < 4 * settings.CELERY_BROKER_CONNECTION_TIMEOUT
    assert "left for the sweep" in caplog.text


@pytest.mark.django_db
@pytest.mark.usefixtures("recording_backend", "frozen_noon")
def test_the_reminders_job_leaves_rows_pending_when_the_broker_is_down(settings) -> None:
    from kombu.exceptions import OperationalError

    def broker_down(**kwargs: object) -> None:
        raise OperationalError("Connection refused")

    purchase_with_warranty_ending(DAY + dt.timedelta(days=7))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deliver_due_task, "apply_async", broker_down)
        summary = run_job("reminders", on=DAY)
    assert (summary["created"], summary["enqueued"]) == (1, 0)
    assert Reminder.objects.get().delivery_status == Reminder.DeliveryStatus.PENDING
