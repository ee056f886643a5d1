"""Ticket changes reach the pages and inboxes: live events, notifications, the escalation job."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import OPERATORS, SUPERVISORS
from crm.celery import app as celery_app
from crm.jobs import run_job
from live import bus
from live.email import EmailOutcome, email_notification
from live.models import Notification
from live.tasks import email_notification_task
from tests.factories import CustomerFactory, TeamFactory, TicketFactory, UserFactory
from tickets.live import escalate_sla
from tickets.models import Status, Ticket, TicketMessage
from tickets.services import add_message, assign_ticket, change_ticket_status, open_ticket


@pytest.fixture(autouse=True)
def eager_celery(settings: Any) -> Iterator[None]:
    """Tasks run inline even when REDIS_URL is set (the PostgreSQL run), as in the quick start."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A broker that keeps the email tasks instead of running them (production's shape)."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        email_notification_task,
        "apply_async",
        lambda args=None, kwargs=None, **options: sent.append(kwargs),
    )
    return sent


@pytest.fixture
def silent_smtp_server(settings: Any) -> Iterator[socket.socket]:
    """A mail server that accepts the connection and never says a word (a hung SMTP relay)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": listener.getsockname()[1], "timeout": 1},
        }
    }
    yield listener
    listener.close()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict, str | None]]:
    events: list[tuple[str, dict, str | None]] = []
    real = bus.publish

    def record(event, data, **kwargs):
        events.append((event, data, kwargs.get("topic")))
        return real(event, data, **kwargs)

    monkeypatch.setattr(bus, "publish", record)
    return events


@pytest.mark.django_db
def test_queue_changes_are_published_after_commit_only(
    operator, django_capture_on_commit_callbacks, published
) -> None:
    customer = CustomerFactory.create()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = open_ticket(customer=customer, subject="Broken", channel="phone", body="Help")
    assert published == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert (
        "ticket_changed",
        {"ticket_id": ticket.pk, "change": "opened", "status": "new"},
        f"ticket:{ticket.pk}",
    ) in published
    with django_capture_on_commit_callbacks(execute=True):
        change_ticket_status(ticket=ticket, to_status=Status.OPEN, actor=operator)
    assert published[-1][0] == "ticket_changed" and published[-1][1]["change"] == "status"


@pytest.mark.django_db
def test_assignment_notifies_the_assignee_once_live_and_by_email(
    operator, supervisor, django_capture_on_commit_callbacks, published
) -> None:
    operator.email = "olga@example.com"
    operator.save()
    ticket = TicketFactory.create(subject="Kettle")
    with django_capture_on_commit_callbacks(execute=True):
        assign_ticket(ticket=ticket, assignee=operator, actor=supervisor)
        assign_ticket(ticket=ticket, assignee=operator, actor=supervisor)  # no change
    notification = Notification.objects.get(recipient=operator)
    assert notification.kind == "assigned"
    assert f"#{ticket.pk}" in notification.text
    assert [m.to for m in mail.outbox] == [["olga@example.com"]]
    assert next(e for e in published if e[0] == "notification")[1]["text"] == notification.text


@pytest.mark.django_db
def test_assigning_to_yourself_notifies_no_one(
    operator, django_capture_on_commit_callbacks
) -> None:
    ticket = TicketFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        assign_ticket(ticket=ticket, assignee=operator, actor=operator)
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_a_customer_reply_notifies_the_assignee_and_an_operator_reply_does_not(
    operator, supervisor, django_capture_on_commit_callbacks
) -> None:
    ticket = TicketFactory.create(assignee=operator)
    with django_capture_on_commit_callbacks(execute=True):
        add_message(ticket=ticket, body="Any news?", author_kind=TicketMessage.Author.CUSTOMER)
        add_message(
            ticket=ticket,
            body="Working on it",
            author_kind=TicketMessage.Author.OPERATOR,
            author_user=supervisor,
        )
    assert list(Notification.objects.values_list("recipient__username", "kind")) == [
        ("olga", "customer_reply")
    ]


@pytest.mark.django_db
def test_an_assignment_in_the_page_does_not_wait_for_the_mail_server(
    client, operator, supervisor, enqueued, silent_smtp_server, django_capture_on_commit_callbacks
) -> None:
    operator.email = "olga@example.com"
    operator.save()
    ticket = TicketFactory.create(subject="Kettle")
    client.force_login(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tickets:assign", args=[ticket.pk]), {"assignee": operator.pk}
        )
    assert response.status_code == 302
    silent_smtp_server.setblocking(False)
    with pytest.raises(BlockingIOError):  # no one connected to the mail server
        silent_smtp_server.accept()
    notification = Notification.objects.get(recipient=operator)
    assert enqueued == [{"notification_id": notification.pk}]  # an id, not the row
    assert notification.emailed_at is None

    # The worker meets the hung server: the send fails and the claim is given back ...
    assert email_notification(notification_id=notification.pk) == EmailOutcome.FAILED
    notification.refresh_from_db()
    assert notification.emailed_at is None
    # ... and the next attempt, with the server back, sends it; a repeated task does not.
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert email_notification_task.apply(kwargs=enqueued[0]).get() == "sent"
    assert email_notification_task.apply(kwargs=enqueued[0]).get() == "already_claimed"
    assert [m.to for m in mail.outbox] == [["olga@example.com"]]
    assert mail.outbox[0].subject == notification.text


@pytest.mark.django_db
def test_the_sweep_sends_an_email_the_broker_never_took(operator, supervisor, enqueued) -> None:
    operator.email = "olga@example.com"
    operator.save()
    supervisor.email = ""
    supervisor.save()
    with_address = Notification.objects.create(
        recipient=operator, key="k1", kind="assigned", text="Ticket #1 was assigned to you."
    )
    Notification.objects.create(recipient=supervisor, key="k2", kind="assigned", text="no email")
    Notification.objects.filter(pk=with_address.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=10)
    )
    Notification.objects.filter(recipient=supervisor).update(
        created_at=timezone.now() - dt.timedelta(minutes=10)
    )
    assert run_job("notification_emails") == {"due": 1, "enqueued": 1}
    assert enqueued == [{"notification_id": with_address.pk}]


def _breaching_ticket(*, assignee: User, now: dt.datetime) -> Ticket:
    ticket = TicketFactory.create(assignee=assignee, team=assignee.team, status=Status.OPEN)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_at_risk_at=now - dt.timedelta(minutes=20),
        first_response_due_at=now - dt.timedelta(minutes=1),
        resolution_at_risk_at=now + dt.timedelta(hours=1),
        resolution_due_at=now + dt.timedelta(hours=2),
    )
    return ticket


@pytest.mark.django_db
def test_escalation_notifies_assignee_and_team_lead_once_per_crossing(
    operator, supervisor, other_team_operator, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    ticket = _breaching_ticket(assignee=operator, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_sla(now=now) == 4  # at risk + breached, to olga and to her lead sveta
        assert escalate_sla(now=now) == 0
        assert run_job("escalations") == {"notified": 0}
    rows = set(Notification.objects.values_list("recipient__username", "kind"))
    assert rows == {
        ("olga", "sla_at_risk"),
        ("olga", "sla_breached"),
        ("sveta", "sla_at_risk"),
        ("sveta", "sla_breached"),
    }
    # The resolution clock crosses later: a new crossing, notified then.
    later = now + dt.timedelta(hours=1, minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_sla(now=later) == 2
    assert Notification.objects.filter(kind="sla_at_risk", key__contains="resolution").count() == 2
    # A ticket answered in time stops its first response clock: nothing new for it.
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED, resolved_at=later)
    assert escalate_sla(now=later + dt.timedelta(hours=2)) == 0


@pytest.mark.postgres
# Skipped before any database set-up on SQLite: a skipped transactional test would still flush.
@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="needs PostgreSQL"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_escalation_jobs_at_the_same_time_notify_each_crossing_once() -> None:
    # A transactional test before this one may have flushed the migrations' role groups.
    for role in (OPERATORS, SUPERVISORS):
        Group.objects.get_or_create(name=role)
    team = TeamFactory.create(name="First line")
    lead = UserFactory.create(username="lead", groups=[SUPERVISORS], team=team, email="l@x.ru")
    now = timezone.now()
    for n in range(5):
        operator = UserFactory.create(
            username=f"op{n}", groups=[OPERATORS], team=team, email=f"op{n}@x.ru"
        )
        _breaching_ticket(assignee=operator, now=now)
    results = _run_in_parallel(lambda: escalate_sla(now=now), workers=2)
    assert sum(results) == 5 * 2 * 2  # 5 tickets, 2 crossings, assignee + lead
    assert Notification.objects.count() == 20
    assert Notification.objects.filter(recipient=lead).count() == 10
    assert len(mail.outbox) == 20  # each email once
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="needs PostgreSQL"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_email_task_delivered_twice_at_the_same_time_sends_once(enqueued) -> None:
    for role in (OPERATORS, SUPERVISORS):
        Group.objects.get_or_create(name=role)
    team = TeamFactory.create(name="First line")
    UserFactory.create(username="lead", groups=[SUPERVISORS], team=team, email="l@x.ru")
    now = timezone.now()
    for n in range(3):
        operator = UserFactory.create(
            username=f"op{n}", groups=[OPERATORS], team=team, email=f"op{n}@x.ru"
        )
        _breaching_ticket(assignee=operator, now=now)
    _run_in_parallel(lambda: escalate_sla(now=now), workers=2)
    assert len(enqueued) == 12 and mail.outbox == []  # the jobs sent nothing themselves
    # The broker hands every task to two workers at once (a redelivery after a lost ack).
    for task in enqueued:
        notification_id: int = task["notification_id"]
        outcomes = _run_in_parallel(
            partial(email_notification, notification_id=notification_id), workers=2
        )
        assert sorted(outcomes) == ["already_claimed", "sent"]
    assert len(mail.outbox) == 12
    assert len({(m.to[0], m.subject) for m in mail.outbox}) == 12


def _run_in_parallel(work: Callable[[], Any], *, workers: int) -> list[Any]:
    barrier = threading.Barrier(workers)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results
