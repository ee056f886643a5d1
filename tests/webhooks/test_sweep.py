"""Webhook deliveries when the broker is down: the change still answers, the delivery waits
as `pending`, and the outbox sweep sends it once the broker is back.

The broker is really unreachable: Celery points at a closed port on 127.0.0.1 with eager mode
off, so publishing fails as it would with Redis down.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from crm.celery import app as celery_app
from crm.jobs import run_job
from tests.api_fixtures import ClientFor, grant
from webhooks.models import Webhook, WebhookDelivery

# Real commits: the request commits its change, then publishing fails, as in production.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.faults]


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _reset_connections() -> None:
    """Forget the app's broker pools (as Celery does after a fork), so the next publish
    connects to the broker now set. kombu keeps each URL's pool open for reuse."""
    celery_app._after_fork()  # type: ignore[attr-defined]


@pytest.fixture
def broker() -> Iterator[dict[str, Any]]:
    """Switch between a broker that is down (a closed port, eager off) and one that runs
    tasks (eager, as a worker would run them)."""
    saved = {
        "broker_url": celery_app.conf.broker_url,
        "task_always_eager": celery_app.conf.task_always_eager,
        "task_eager_propagates": celery_app.conf.task_eager_propagates,
    }

    def down() -> None:
        celery_app.conf.update(
            broker_url=f"redis://127.0.0.1:{_closed_port()}/0", task_always_eager=False
        )
        _reset_connections()

    def up() -> None:
        celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
        _reset_connections()

    yield {"down": down, "up": up}
    celery_app.conf.update(**saved)
    _reset_connections()


@pytest.fixture
def received(settings: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A receiver on 127.0.0.1 answering 200, and the bodies it got (loopback is a target only
    an explicit allow-list permits)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_a_dead_broker_neither_fails_the_request_nor_loses_the_delivery(
    broker: dict[str, Any],
    received: tuple[str, list[dict[str, Any]]],
    client_for: ClientFor,
    integration: User,
    settings: Any,
) -> None:
    url, bodies = received
    Webhook.objects.create(name="Shop", url=url, events=["customer.created"])
    shop = grant(integration, "customers.add_customer", group_name="Shop")
    broker["down"]()

    response = client_for(shop).post(
        "/api/v1/customers/", {"full_name": "Anna Ivanova"}, format="json"
    )

    assert response.status_code == 201, response.content
    delivery = WebhookDelivery.objects.get()
    assert delivery.delivery_status == WebhookDelivery.DeliveryStatus.PENDING
    assert bodies == []

    # Still down: the sweep fails soft and the delivery waits.
    assert run_job("outbox") == {"recovered": 0, "created": 0, "batches": 1, "enqueued": 0}
    assert WebhookDelivery.objects.get().delivery_status == WebhookDelivery.DeliveryStatus.PENDING

    broker["up"]()
    assert run_job("outbox") == {"recovered": 0, "created": 0, "batches": 1, "enqueued": 1}

    delivery.refresh_from_db()
    assert delivery.delivery_status == WebhookDelivery.DeliveryStatus.SENT
    assert [body["data"]["id"] for body in bodies] == [response.data["id"]]
    assert run_job("outbox") == {"recovered": 0, "created": 0, "batches": 0, "enqueued": 0}


def test_the_sweep_is_on_the_beat_schedule(settings: Any) -> None:
    names = [entry["kwargs"]["name"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "outbox" in names


def test_send_again_in_the_admin_with_a_dead_broker_answers_and_the_sweep_sends_it(
    broker: dict[str, Any],
    received: tuple[str, list[dict[str, Any]]],
    admin_user: User,
    settings: Any,
) -> None:
    url, bodies = received
    hook = Webhook.objects.create(name="Shop", url=url, events=["customer.created"])
    failed = WebhookDelivery.objects.create(
        webhook=hook,
        event="customer.created",
        payload={"event": "customer.created", "data": {"id": 7}},
        delivery_status=WebhookDelivery.DeliveryStatus.FAILED,
        attempts=8,
        created_at=timezone.now(),
        next_attempt_at=None,
    )
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    broker["down"]()

    response = client.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk]},
    )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.delivery_status, failed.attempts) == (WebhookDelivery.DeliveryStatus.PENDING, 0)
    assert failed.next_attempt_at is not None  # due, so the sweep sees it
    assert bodies == []

    broker["up"]()
    assert run_job("outbox")["enqueued"] == 1
    failed.refresh_from_db()
    assert failed.delivery_status == WebhookDelivery.DeliveryStatus.SENT
    assert len(bodies) == 1 and bodies[0]["event"] == "customer.created"
