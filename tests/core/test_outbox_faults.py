"""The outbox against a dying world: a real Celery worker on its own Redis, SIGKILLed in the
middle of a batch while two reminder jobs run at once; the sweep takes its claims back and a
second worker finishes. A fake SMS gateway on loopback counts what it was handed, per key.

And a gateway that refuses: the reminder is retried with back-off, then goes by email.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings
from django.core import mail
from django.utils import timezone

from core.outbox.engine import Outcome, deliver
from customers.models import Channel, Interaction, Purchase, Reminder
from tests.crm.test_jobs_worker import _database_url
from tests.factories import CustomerFactory, EmailFactory, PhoneFactory, PurchaseFactory

MESSAGES = 60
LEASE_SECONDS = 6
# The sweep's period as the test plays beat; the bound on recovery is the lease plus this plus
# the time the second worker needs to send what is left.
SWEEP_EVERY = 2.0
RECOVERY_BOUND = 60.0
KILL_AFTER = 15


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(predicate: Any, *, seconds: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)  # polling other processes; no clock rule waits on this
    detail = log.read_text()[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{detail}")


class Gateway:
    """An SMS gateway on loopback: accepts JSON, answers an id, counts requests per key."""

    def __init__(self, *, refuse: bool = False, delay: float = 0.0) -> None:
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.refuse = refuse
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if delay:
                    time.sleep(delay)  # a provider's latency, so a batch takes a while
                with gateway.lock:
                    gateway.requests[self.headers.get("Idempotency-Key", "")] += 1
                self.send_response(503 if gateway.refuse else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "gw-1"}')

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        with self.lock:
            return sum(self.requests.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of the test's own on a free port (never the shared one)."""
    port = _free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
        except OSError:
            return False
        return True

    try:
        _wait(answers, seconds=20, what="redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _start_worker(
    tmp_path: Path, name: str, broker: str, gateway: Gateway
) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / f"{name}.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CRM_VAR_DIR": str(tmp_path),
        "CRM_SMS_BACKEND": "customers.delivery.backends.JSONHTTPBackend",
        "CRM_SMS_URL": gateway.url,
        "OUTBOX_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
        "OUTBOX_BATCH_SIZE": "10",
        "DELIVERY_QUIET_HOURS_START": "00:00",
        "DELIVERY_QUIET_HOURS_END": "00:00",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "crm", "worker",
        "--pool", "threads", "--concurrency", "2", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    _wait(lambda: "ready." in log.read_text(), seconds=60, what=f"{name} to start", log=log)
    return process, log


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.faults
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_each_key_reaches_the_gateway_once(
    tmp_path: Path, redis_url: str
) -> None:
    today = timezone.localdate()
    for _ in range(MESSAGES):
        customer = CustomerFactory.create(preferred_channel=Channel.SMS)
        PhoneFactory.create(customer=customer)
        purchase = PurchaseFactory.create(customer=customer)
        Purchase.objects.filter(pk=purchase.pk).update(
            warranty_ends_on=today + dt.timedelta(days=7)
        )
    gateway = Gateway(delay=0.05)
    client = Celery("test-client", set_as_current=False)
    client.config_from_object("django.conf:settings", namespace="CELERY")
    client.conf.update(broker_url=redis_url, task_always_eager=False)
    first, first_log = _start_worker(tmp_path, "first", redis_url, gateway)
    second = None
    try:
        # Two runs of the daily job at once, on two threads of the worker.
        for _ in range(2):
            client.send_task("crm.run_job", kwargs={"name": "reminders", "on": today.isoformat()})
        _wait(lambda: gateway.total() >= KILL_AFTER, seconds=60, what="sending", log=first_log)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        open_claims = Reminder.objects.filter(delivery_status="sending").count()
        assert Reminder.objects.count() == MESSAGES  # two runs, one reminder each
        assert Reminder.objects.filter(delivery_status="sent").count() < MESSAGES

        second, second_log = _start_worker(tmp_path, "second", redis_url, gateway)
        last_sweep = 0.0

        def all_sent() -> bool:
            nonlocal last_sweep
            if time.monotonic() - last_sweep >= SWEEP_EVERY:  # the beat, every few seconds
                client.send_task("crm.run_job", kwargs={"name": "outbox"})
                last_sweep = time.monotonic()
            return Reminder.objects.exclude(delivery_status="sent").count() == 0

        _wait(all_sent, seconds=RECOVERY_BOUND, what="every reminder sent", log=second_log)
        recovered_in = time.monotonic() - killed_at
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
        client.close()
        gateway.close()

    keys = {f"{key.hex}-sms" for key in Reminder.objects.values_list("idempotency_key", flat=True)}
    # Every message reached the gateway under its one key; a key that came twice is a message
    # the gateway accepted just before the kill, and it dedups it by that key.
    assert set(gateway.requests) == keys
    repeated = [key for key, count in gateway.requests.items() if count > 1]
    assert all(gateway.requests[key] == 2 for key in repeated)
    assert len(repeated) <= 2  # at most one message in flight per worker thread
    assert Interaction.objects.filter(kind="reminder").count() == MESSAGES
    assert recovered_in < LEASE_SECONDS + RECOVERY_BOUND / 2, recovered_in
    print(f"open claims at the kill: {open_claims}, all sent {recovered_in:.1f} s after it")


@pytest.mark.faults
@pytest.mark.django_db
def test_a_gateway_refusing_gets_retries_with_back_off_then_the_email(settings) -> None:
    """A real HTTP gateway answering 503: retried on the outbox's schedule, then the customer's
    next consented channel (email) takes the reminder."""
    gateway = Gateway(refuse=True)
    settings.SMS_BACKEND = "customers.delivery.backends.JSONHTTPBackend"
    settings.SMS_OPTIONS = {"url": gateway.url, "token": "", "sender": "", "timeout": 5}
    settings.OUTBOX_MAX_ATTEMPTS = 4
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    settings.OUTBOX_RETRY_JITTER = 0.25
    settings.DELIVERY_QUIET_HOURS_START = settings.DELIVERY_QUIET_HOURS_END = "00:00"
    customer = CustomerFactory.create(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=customer)
    EmailFactory.create(customer=customer, value="anna@example.com")
    purchase = PurchaseFactory.create(customer=customer)
    today = timezone.localdate()
    Purchase.objects.filter(pk=purchase.pk).update(warranty_ends_on=today + dt.timedelta(days=7))
    reminder = Reminder.objects.create(
        purchase=purchase, kind="warranty", due_on=today, ends_on=today + dt.timedelta(days=7)
    )
    try:
        now, outcomes, waits = timezone.now(), [], []
        for _attempt in range(5):
            outcome = deliver("reminder", reminder.pk, now=now)
            outcomes.append(outcome.status)
            if outcome.retry_at is not None and outcome.status == Outcome.RETRY:
                waits.append((outcome.retry_at - now).total_seconds())
            now = outcome.retry_at or now
    finally:
        gateway.close()
    assert outcomes == ["retry", "retry", "retry", "fallback", "sent"]
    # 60, 120, 240 s, each within the jitter.
    assert [round(w / base) for w, base in zip(waits, (60, 120, 240), strict=True)] == [1, 1, 1]
    assert all(0.75 * b <= w <= 1.25 * b for w, b in zip(waits, (60, 120, 240), strict=True))
    assert gateway.requests == {f"{reminder.idempotency_key.hex}-sms": 4}
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.channel, reminder.failed_channels) == (
        "sent",
        "email",
        ["sms"],
    )
    assert reminder.last_error == ""
    assert [m.to for m in mail.outbox] == [["anna@example.com"]]
