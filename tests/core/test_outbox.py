"""The outbox's rules for every kind: claims, leases, back-off, fallback, registration."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from core.outbox import engine
from core.outbox.engine import Outcome, claim_due, deliver, deliver_claimed
from core.outbox.errors import TemporaryDeliveryError
from core.outbox.policy import retry_delay, retry_schedule
from core.outbox.registry import KINDS, OutboxKind, Send, register
from customers.delivery.backends import OutgoingMessage
from customers.models import Channel, Interaction, Reminder
from tests.delivery_fixtures import RecordingBackend, moscow, recording_backend  # noqa: F401
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    PhoneFactory,
    PurchaseFactory,
    ReminderFactory,
    SurveyFactory,
)
from webhooks.models import Webhook, WebhookDelivery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recording_backend")]

DUE = dt.date(2026, 3, 2)
NOON = moscow(2026, 3, 2, 12, 0)


class KeyRecordingBackend(RecordingBackend):
    """Records the provider key of every attempt, failed ones included."""

    keys: list[str] = []

    def send(self, message: OutgoingMessage) -> str:
        with self.lock:
            KeyRecordingBackend.keys.append(message.idempotency_key)
        return super().send(message)


def sms_reminder(*, with_email: bool = False) -> Reminder:
    customer = CustomerFactory.create(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=customer)
    if with_email:
        EmailFactory.create(customer=customer, value="anna@example.com")
    purchase = PurchaseFactory.create(customer=customer)
    return ReminderFactory.create(purchase=purchase, due_on=DUE, ends_on=DUE + dt.timedelta(days=9))


def test_every_kind_is_registered() -> None:
    assert {"reminder", "survey_invitation", "webhook", "ticket_reply"} <= set(KINDS)


def test_back_off_doubles_up_to_the_cap_and_spans_hours_by_default(settings) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 10
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    settings.OUTBOX_RETRY_MAX_SECONDS = 7200
    settings.OUTBOX_RETRY_JITTER = 0
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 9)] == [60, 120, 240, 7200, 7200]
    assert retry_schedule() > dt.timedelta(hours=5)


def test_jitter_spreads_messages_that_failed_together(settings) -> None:
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    settings.OUTBOX_RETRY_JITTER = 0.25
    delays = [retry_delay(3).total_seconds() for _ in range(200)]
    assert all(180 <= delay <= 300 for delay in delays)
    assert len(set(delays)) > 150 and statistics.pstdev(delays) > 10


def test_the_provider_key_and_the_message_id_stay_the_same_across_attempts(settings) -> None:
    settings.SMS_BACKEND = "tests.core.test_outbox.KeyRecordingBackend"
    KeyRecordingBackend.keys = []
    reminder = sms_reminder()
    RecordingBackend.failures = [TemporaryDeliveryError("timeout")] * 2
    now = NOON
    for _attempt in range(3):
        now = deliver("reminder", reminder.pk, now=now).retry_at or now
    assert len(KeyRecordingBackend.keys) == 3
    assert set(KeyRecordingBackend.keys) == {f"{reminder.idempotency_key.hex}-sms"}

    email_reminder = ReminderFactory.create(
        purchase=PurchaseFactory.create(), due_on=DUE, ends_on=DUE + dt.timedelta(days=9)
    )
    EmailFactory.create(customer=email_reminder.customer)
    deliver("reminder", email_reminder.pk, now=NOON)
    key = email_reminder.idempotency_key.hex
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{key}-email@example.com>"


def test_after_the_last_sms_attempt_the_reminder_falls_back_to_email() -> None:
    reminder = sms_reminder(with_email=True)
    RecordingBackend.failures = [TemporaryDeliveryError("sms gateway answered 503")] * 3
    outcomes, now = [], NOON
    for _attempt in range(4):
        outcome = deliver("reminder", reminder.pk, now=now)
        outcomes.append(outcome.status)
        now = outcome.retry_at or now
    assert outcomes == ["retry", "retry", "fallback", "sent"]
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.channel, reminder.failed_channels) == (
        "sent",
        "email",
        ["sms"],
    )
    assert reminder.attempts == 1 and reminder.contact_address == "anna@example.com"
    assert mail.outbox[0].to == ["anna@example.com"]
    assert Interaction.objects.get(customer=reminder.customer).channel == Channel.EMAIL


def test_with_no_other_consented_channel_the_reminder_fails_for_good() -> None:
    reminder = sms_reminder()
    EmailFactory.create(customer=reminder.customer, opted_out_at=timezone.now())
    RecordingBackend.failures = [TemporaryDeliveryError("503")] * 3
    now = NOON
    for _attempt in range(3):
        now = deliver("reminder", reminder.pk, now=now).retry_at or now
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.failed_channels) == ("failed", [])
    assert mail.outbox == []


def test_two_claims_take_disjoint_rows_and_only_due_ones() -> None:
    reminders = [sms_reminder() for _ in range(5)]
    Reminder.objects.filter(pk=reminders[4].pk).update(next_attempt_at=NOON + dt.timedelta(hours=1))
    first = claim_due("reminder", limit=3, now=NOON)
    second = claim_due("reminder", limit=3, now=NOON)
    assert len(first.ids) == 3 and len(second.ids) == 1
    assert not set(first.ids) & set(second.ids)
    assert reminders[4].pk not in first.ids + second.ids
    assert claim_due("reminder", limit=3, now=NOON).ids == ()


def test_a_worker_whose_claim_was_taken_back_sends_nothing(settings) -> None:
    settings.OUTBOX_CLAIM_LEASE_SECONDS = 45
    reminder = sms_reminder()
    slow = claim_due("reminder", limit=10, now=NOON)
    later = NOON + dt.timedelta(seconds=60)
    assert engine.recover_expired_claims("reminder", now=later) == 1
    fresh = claim_due("reminder", limit=10, now=later)
    assert fresh.ids == (reminder.pk,)
    assert [o.status for o in deliver_claimed(slow, now=later)] == [Outcome.NOT_CLAIMED]
    assert [o.status for o in deliver_claimed(fresh, now=later)] == [Outcome.SENT]
    assert len(RecordingBackend.sent) == 1


def test_a_slow_worker_that_did_send_records_it_and_the_next_finds_it_sent(settings) -> None:
    """The crash window: the provider accepted, the claim expired meanwhile. Whoever records
    first marks it sent and writes the timeline; the other records nothing."""
    settings.OUTBOX_CLAIM_LEASE_SECONDS = 45
    reminder = sms_reminder()
    first = claim_due("reminder", limit=1, now=NOON)
    held = KINDS["reminder"]
    later = NOON + dt.timedelta(seconds=60)

    def slow_send(row: Any, payload: Any, now: dt.datetime) -> None:
        # While this worker talks to the provider, its lease runs out and another takes over.
        engine.recover_expired_claims("reminder", now=later)
        register(held)  # the other worker runs the real kind
        try:
            assert deliver("reminder", row.pk, now=later).status == Outcome.SENT
        finally:
            register(patched)
        held.send(row, payload, now)

    patched = register(OutboxKind(**{**held.__dict__, "send": slow_send}))
    try:
        assert [o.status for o in deliver_claimed(first, now=NOON)] == [Outcome.SENT]
    finally:
        register(held)
    assert len(RecordingBackend.sent) == 2  # the same key twice: the provider drops one
    assert len({m.idempotency_key for m in RecordingBackend.sent}) == 1
    assert Interaction.objects.filter(customer=reminder.customer).count() == 1


def test_an_expired_survey_invitation_is_closed_not_sent() -> None:
    from surveys.models import SurveyInvitation

    invitation = SurveyInvitation.objects.create(
        survey=SurveyFactory.create(), customer=CustomerFactory.create(), created_at=NOON
    )
    outcome = deliver("survey_invitation", invitation.pk, now=invitation.expires_at)
    invitation.refresh_from_db()
    assert outcome.status == invitation.delivery_status == "skipped"
    assert invitation.sent_at is None


class _Hook(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.bodies.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def hook_url(settings) -> Iterator[str]:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    _Hook.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_webhook_delivery_is_sent_once_and_never_again(hook_url: str) -> None:
    hook = Webhook.objects.create(name="BI", url=hook_url, events=["ticket.created"])
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="ticket.created", payload={"id": 1}, created_at=NOON
    )
    assert deliver("webhook", delivery.pk, now=NOON).status == Outcome.SENT
    assert deliver("webhook", delivery.pk, now=NOON).status == Outcome.NOT_CLAIMED
    assert claim_due("webhook", limit=10, now=NOON).ids == ()
    assert len(_Hook.bodies) == 1


def test_a_fourth_kind_plugs_in_by_registering(hook_url: str) -> None:
    """What the email helper does for ticket replies: a model with the outbox fields, a send
    function, one `register` call; claims, retries and the sweep come with it."""
    sent: list[int] = []
    attempts = iter([TemporaryDeliveryError("busy"), None])

    def send(row: Any, payload: Any, now: dt.datetime) -> None:
        failure = next(attempts)
        if failure:
            raise failure
        sent.append(row.pk)

    register(
        OutboxKind(
            name="test_reply",
            model=WebhookDelivery,
            send=send,
            prepare=lambda row, now: Send(fields={"last_attempt_at": now}),
        )
    )
    try:
        hook = Webhook.objects.create(name="BI", url=hook_url, events=["ticket.created"])
        row = WebhookDelivery.objects.create(
            webhook=hook, event="ticket.created", payload={}, created_at=NOON
        )
        first = deliver("test_reply", row.pk, now=NOON)
        assert first.status == Outcome.RETRY
        assert engine.sweep_kind("test_reply", now=first.retry_at)["batches"] == 1
        claim = claim_due("test_reply", limit=5, now=first.retry_at)
        assert [o.status for o in deliver_claimed(claim, now=first.retry_at)] == ["sent"]
        row.refresh_from_db()
        assert (row.delivery_status, row.attempts, row.last_attempt_at) == (
            "sent",
            2,
            first.retry_at,
        )
        assert sent == [row.pk]
    finally:
        KINDS.pop("test_reply")
