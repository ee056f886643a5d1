"""A worker killed mid-request must not lock its Idempotency-Key for a day.

The production server (gunicorn, as docker-compose runs it) serves the test database. A bulk
request sent with an Idempotency-Key claims its key and then blocks on a table lock the test
holds; the test SIGKILLs the worker that runs it. A retry answers 409 while the request's
database session still lives (blocked on the lock, it cannot know its client died); once the
lock goes, that session ends, and the next retry takes the key over at once, well before the
lease runs out, and writes the purchases exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.tokens import issue_token
from core.api.models import IdempotencyKey
from customers.models import Purchase
from tests.factories import CustomerFactory, ProductFactory, UserFactory

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# The production default: the retry takes the key over when the holder's session ends, long
# before this.
LEASE_SECONDS = 120
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _dsn() -> str:
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        host=settings["HOST"] or "127.0.0.1",
        port=str(settings["PORT"] or 5432),
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )


def _wait_until(predicate: Any, *, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """gunicorn with one worker, in production settings, on the test database."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://{user}:{password}@{host}:{port}/{name}".format(
            user=connection.settings_dict["USER"],
            password=connection.settings_dict["PASSWORD"] or "",
            host=connection.settings_dict["HOST"] or "127.0.0.1",
            port=connection.settings_dict["PORT"] or 5432,
            name=connection.settings_dict["NAME"],
        ),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "faults-test-secret-key-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "CRM_VAR_DIR": str(tmp_path),
        "CRM_API_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "REDIS_URL": "",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "crm.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "gunicorn.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _get(f"{base}/healthz") == 200, seconds=60, what="gunicorn")
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except (OSError, urllib.error.URLError):
        return None


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def test_a_retry_takes_over_the_key_of_a_killed_worker_once_its_session_ends(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, gunicorn = server
    user: User = UserFactory.create(username="shop", is_superuser=True)
    _token, token = issue_token(user=user)
    customer = CustomerFactory.create(external_id="SHOP-1")
    product = ProductFactory.create(sku="KT-1")
    body = {
        "items": [
            {
                "customer_external_id": customer.external_id,
                "product_sku": product.sku,
                "external_id": f"O-{index}",
                "amount": "2500.00",
            }
            for index in range(50)
        ]
    }
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": "sync-2026-11-23"}
    url = f"{base}/api/v1/purchases/bulk/"
    outcome: dict[str, Any] = {}

    def send() -> None:
        try:
            outcome["answer"] = _post(url, body, headers)
        except OSError as error:  # the worker died under the request
            outcome["error"] = error

    with psycopg.connect(_dsn()) as lock, psycopg.connect(_dsn(), autocommit=True) as watch:
        # Holding this lock, the test lets the bulk request claim its key and read, and
        # makes its INSERT of the purchases wait.
        lock.execute("LOCK TABLE customers_purchase IN SHARE MODE")
        worker = _wait_until(lambda: _workers(gunicorn.pid), seconds=10, what="the worker")[0]
        sender = threading.Thread(target=send)
        sender.start()
        _wait_until(
            lambda: watch.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE 'INSERT INTO \"customers_purchase\"%%'"
            ).fetchone(),
            seconds=20,
            what="the bulk request to block on its INSERT",
        )
        os.kill(worker, signal.SIGKILL)
        sender.join(timeout=30)

        assert "answer" not in outcome, outcome
        in_flight = IdempotencyKey.objects.get()
        assert in_flight.response_status is None
        assert in_flight.holder_backend_pid is not None
        # gunicorn starts a new worker: the retries reach it.
        _wait_until(lambda: _get(f"{base}/healthz") == 200, seconds=60, what="a new worker")
        early_status, early = _post(url, body, headers)

        assert early_status == 409, early
        assert early["code"] == "idempotency_key_in_flight"
        lock.rollback()
        # The dead worker's session runs its INSERT, finds its client gone and ends.
        _wait_until(
            lambda: (
                not watch.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [in_flight.holder_backend_pid]
                ).fetchone()
            ),
            seconds=20,
            what="the dead worker's database session to end",
        )

    leased_until = in_flight.leased_until
    assert leased_until is not None
    status, answer = _post(url, body, headers)
    replay_status, replay = _post(url, body, headers)

    assert status == 201, answer
    assert timezone.now() < leased_until, "taken over by the session rule, not the lease"
    assert answer["created"] == 50
    assert (replay_status, replay) == (status, answer)
    assert Purchase.objects.filter(customer=customer).count() == 50
