"""Webhooks: events from model changes, signed deliveries, retries with backoff.

A real HTTP server on 127.0.0.1 receives the deliveries and checks their signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accounts.models import User
from core.outbox.engine import Outcome, deliver
from core.outbox.policy import retry_delay
from crm.celery import app as celery_app
from tests.api_fixtures import ClientFor
from tests.factories import CustomerFactory, SurveyInvitationFactory, TicketFactory
from tickets.services import change_ticket_status
from webhooks.models import Webhook, WebhookDelivery
from webhooks.services import sign, verify

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """What the test server saw, and how many times it should fail before answering 200."""

    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    signatures_ok: list[bool] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            state.signatures_ok.append(
                hmac.compare_digest(expected, self.headers["X-CRM-Signature"])
                and self.headers["X-CRM-Timestamp"] == str(json.loads(body)["timestamp"])
            )
            state.received.append(json.loads(body))
            state.headers.append(dict(self.headers))
            failing = len(state.received) <= state.fail_first
            self.send_response(503 if failing else 200)
            self.end_headers()
            self.wfile.write(b"busy" if failing else b"ok")

        def log_message(self, *args: Any) -> None:  # keep the test output clean
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Run tasks inline even where REDIS_URL is set (CI's PostgreSQL run)."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def local_receiver_allowed(settings) -> None:
    """The test receiver listens on loopback, which only an explicit allow-list permits."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def retry_until_done(delivery: WebhookDelivery) -> None:
    """Play the sweep: attempt again at each next attempt time until the delivery is done."""
    delivery.refresh_from_db()
    while delivery.delivery_status == "pending" and delivery.next_attempt_at is not None:
        outcome = deliver("webhook", delivery.pk, now=delivery.next_attempt_at)
        assert outcome.status in {Outcome.RETRY, Outcome.SENT, Outcome.FAILED}
        delivery.refresh_from_db()


def hook(url: str, *events: str) -> Webhook:
    return Webhook.objects.create(name="BI", url=url, events=list(events), secret=SECRET)


def test_customer_created_is_delivered_signed(
    receiver: Receiver, client_for: ClientFor, operator: User, django_capture_on_commit_callbacks
) -> None:
    hook(receiver.url, "customer.created")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(operator).post(
            "/api/v1/customers/", {"full_name": "Anna"}, format="json"
        )

    assert response.status_code == 201
    (delivery,) = receiver.received
    assert delivery["event"] == "customer.created"
    assert delivery["data"]["id"] == response.data["id"]
    assert receiver.signatures_ok == [True]
    record = WebhookDelivery.objects.get()
    assert (record.delivery_status, record.attempts, record.response_status) == ("sent", 1, 200)
    assert record.sent_at is not None
    assert receiver.headers[0]["Idempotency-Key"] == str(record.idempotency_key)


def test_failing_receiver_is_retried_until_it_answers(
    receiver: Receiver, settings, django_capture_on_commit_callbacks
) -> None:
    receiver.fail_first = 2
    hook(receiver.url, "ticket.created")

    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory.create()
    retry_until_done(WebhookDelivery.objects.get())

    assert len(receiver.received) == 3
    assert all(receiver.signatures_ok)
    assert len({d["id"] for d in receiver.received}) == 1  # one delivery, three attempts
    # The same key on every attempt, so the receiver can drop a repeat.
    assert len({h["Idempotency-Key"] for h in receiver.headers}) == 1
    record = WebhookDelivery.objects.get()
    assert (record.delivery_status, record.attempts, record.response_status) == ("sent", 3, 200)


def test_gives_up_after_the_last_attempt(
    receiver: Receiver, settings, django_capture_on_commit_callbacks
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 3
    receiver.fail_first = 100
    hook(receiver.url, "ticket.created")

    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory.create()
    retry_until_done(WebhookDelivery.objects.get())

    record = WebhookDelivery.objects.get()
    assert (record.delivery_status, record.attempts, record.response_status) == ("failed", 3, 503)
    assert record.last_error == "HTTP 503"
    assert len(receiver.received) == 3


def test_unreachable_receiver_records_the_error(
    settings, django_capture_on_commit_callbacks
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 1
    hook("http://127.0.0.1:9/nothing-listens", "customer.created")

    with django_capture_on_commit_callbacks(execute=True):
        CustomerFactory.create()

    record = WebhookDelivery.objects.get()
    assert record.delivery_status == "failed"
    assert record.response_status is None
    assert record.last_error


def test_status_change_and_survey_answer_events(
    receiver: Receiver, django_capture_on_commit_callbacks
) -> None:
    hook(receiver.url, "ticket.status_changed", "survey.answered")
    ticket = TicketFactory.create()
    invitation = SurveyInvitationFactory.create()
    from surveys.services import record_response

    with django_capture_on_commit_callbacks(execute=True):
        change_ticket_status(ticket=ticket, to_status="open")
        record_response(invitation=invitation, score=4)

    events = {d["event"]: d["data"] for d in receiver.received}
    assert events["ticket.status_changed"]["from"] == "new"
    assert events["ticket.status_changed"]["to"] == "open"
    assert events["survey.answered"]["score"] == 4
    assert events["survey.answered"]["customer"] == invitation.customer_id


def test_nothing_is_recorded_for_unsubscribed_events_or_inactive_hooks(
    receiver: Receiver, django_capture_on_commit_callbacks
) -> None:
    hook(receiver.url, "survey.answered")
    inactive = hook(receiver.url, "customer.created")
    inactive.is_active = False
    inactive.save()

    with django_capture_on_commit_callbacks(execute=True):
        CustomerFactory.create()

    assert not WebhookDelivery.objects.exists()
    assert receiver.received == []


def test_no_delivery_for_a_rolled_back_change(receiver: Receiver) -> None:
    from django.db import transaction

    hook(receiver.url, "customer.created")

    with pytest.raises(RuntimeError), transaction.atomic():
        CustomerFactory.create()
        raise RuntimeError("roll back")

    assert not WebhookDelivery.objects.exists()
    assert receiver.received == []


def test_signature_helpers_and_backoff(settings) -> None:
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    settings.OUTBOX_RETRY_JITTER = 0
    body = b'{"a":1}'

    assert verify(secret="k", body=body, signature=sign(secret="k", body=body))
    assert not verify(secret="k", body=body + b" ", signature=sign(secret="k", body=body))
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_a_webhook_must_name_known_events(public_dns) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        Webhook(name="x", url="https://example.com/", events=["order.shipped"]).full_clean()

    assert "events" in refused.value.message_dict
    Webhook(name="x", url="https://example.com/", events=["ticket.created"]).full_clean()
