"""End to end: a real `celery worker` process on the real Redis broker runs the reminders job
against the test database and sends each reminder once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from customers.models import Interaction, Purchase, Reminder
from tests.factories import EmailFactory, PurchaseFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# The database number this suite may use when CI gives no REDIS_URL of its own.
DEFAULT_TEST_BROKER = "redis://127.0.0.1:6379/4"
WORKER_START_TIMEOUT = 60
JOB_TIMEOUT = 60
POLL_INTERVAL = 0.2
SHUTDOWN_TIMEOUT = 20


def _broker_url() -> str:
    url = settings.REDIS_URL or DEFAULT_TEST_BROKER
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1).close()
    except OSError:
        pytest.skip(f"no Redis at {parts.hostname}:{parts.port}")
    return url


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_for(
    predicate: Callable[[], bool], timeout: float, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            pytest.fail(f"the worker exited with {process.returncode}:\n{log.read_text()}")
        time.sleep(POLL_INTERVAL)  # polling another process; nothing here waits on a clock rule
    pytest.fail(f"timed out after {timeout}s; worker log:\n{log.read_text()}")


def test_a_real_worker_runs_the_reminders_job_end_to_end(tmp_path: Path) -> None:
    broker = _broker_url()
    today = timezone.localdate()
    purchase = PurchaseFactory.create()
    EmailFactory.create(customer=purchase.customer, value="worker-test@example.com")
    Purchase.objects.filter(pk=purchase.pk).update(warranty_ends_on=today + dt.timedelta(days=7))

    client = Celery("test-client", set_as_current=False)
    client.config_from_object("django.conf:settings", namespace="CELERY")
    client.conf.update(broker_url=broker, task_always_eager=False)
    client.control.purge()  # messages another test left for ids that no longer exist

    log = tmp_path / "worker.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CRM_VAR_DIR": str(tmp_path),
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        # The test must not depend on the hour it runs at: no quiet hours in the worker.
        "DELIVERY_QUIET_HOURS_START": "00:00",
        "DELIVERY_QUIET_HOURS_END": "00:00",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "crm",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"test-{uuid.uuid4().hex[:8]}@%h",
    ]
    with log.open("wb") as output:
        worker = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_for(lambda: "ready." in log.read_text(), WORKER_START_TIMEOUT, worker, log)
        client.send_task("crm.run_job", kwargs={"name": "reminders", "on": today.isoformat()})
        _wait_for(
            lambda: Reminder.objects.filter(delivery_status=Reminder.DeliveryStatus.SENT).exists(),
            JOB_TIMEOUT,
            worker,
            log,
        )
        # The job again: the reminder exists and was sent, so nothing more happens.
        client.send_task("crm.run_job", kwargs={"name": "reminders", "on": today.isoformat()})
        _wait_for(lambda: log.read_text().count("succeeded") >= 3, JOB_TIMEOUT, worker, log)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        client.close()
    reminder = Reminder.objects.get()
    assert (reminder.delivery_status, reminder.attempts, reminder.channel) == ("sent", 1, "email")
    assert Interaction.objects.filter(customer=purchase.customer, kind="reminder").count() == 1
    assert log.read_text().count("To: worker-test@example.com") == 1
