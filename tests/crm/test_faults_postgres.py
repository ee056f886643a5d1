"""PostgreSQL stopped, restarted under a request, hung: 503 with Retry-After, then recovery.

The production server (scripts/serve, DEBUG off) runs on a private PostgreSQL cluster
(tests/faults_fixtures.py) whose statement timeout is 10 s and client-side deadline 3 s. The test
stops, restarts (every session ended) and SIGSTOPs that cluster. While it is away the API answers
503 JSON with Retry-After and the pages a plain 503 page, quickly; once it is back, so is the
service; an Idempotency-Key whose request died with the database is taken over by the retry.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from tests.faults_fixtures import Answer, FaultWorld, wait_until

# django_db: pytest-django sets up the test database the private cluster copies; transactional
# with serialized_rollback as the other fault tests, so that they leave each other the same data.
pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# A refused connection answers once the web process's connection pool has waited for a
# connection (DATABASE_POOL_TIMEOUT_SECONDS, 2 s); a hung server after the client's 3 s
# deadline or the 2 s connect timeout. Bounds with room for a busy machine.
REFUSED_SECONDS = 3.0
HUNG_SECONDS = 8.0
RECOVERY_SECONDS = 15.0


def _assert_unavailable(answer: Answer, *, api: bool) -> None:
    assert answer.status == 503, answer.body[:500]
    assert int(answer.headers["retry-after"]) > 0
    if api:
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["code"] == "service_unavailable"
    else:
        assert answer.headers["content-type"].startswith("text/html")
        assert b"Service unavailable" in answer.body


def _api_answers(world: FaultWorld) -> bool:
    return world.request("GET", "/api/v1/customers/?limit=1", timeout=5).status == 200


def test_a_stopped_database_answers_503_with_retry_after_then_recovers(faults: FaultWorld) -> None:
    assert _api_answers(faults)
    faults.cluster.stop()

    api = faults.request("GET", "/api/v1/customers/?limit=1")
    page = faults.request("GET", f"/s/{faults.survey_token}/", headers={"Accept": "text/html"})
    health = faults.request("GET", "/healthz")

    _assert_unavailable(api, api=True)
    _assert_unavailable(page, api=False)
    assert health.status == 503
    assert health.json()["database"] == "unavailable"
    assert max(api.seconds, page.seconds, health.seconds) < REFUSED_SECONDS

    faults.cluster.start()
    started = time.monotonic()
    wait_until(lambda: _api_answers(faults), seconds=RECOVERY_SECONDS, what="the API back")
    assert time.monotonic() - started < RECOVERY_SECONDS


def test_a_request_cut_by_a_restart_answers_503_and_its_retry_takes_the_key(
    faults: FaultWorld,
) -> None:
    body = {
        "items": [
            {
                "customer_external_id": "FAULTS-1",
                "product_sku": "FAULTS-KT",
                "external_id": f"R-{index}",
                "amount": "2500.00",
            }
            for index in range(20)
        ]
    }
    key = {"Idempotency-Key": "restart-2026-12-06"}
    outcome: dict[str, Any] = {}

    def send() -> None:
        outcome["answer"] = faults.request("POST", "/api/v1/purchases/bulk/", body, headers=key)

    lock = psycopg.connect(faults.cluster.conninfo())
    try:
        # Holding this lock, the test lets the request claim its key and makes its INSERT wait.
        lock.execute("LOCK TABLE customers_purchase IN SHARE MODE")
        sender = threading.Thread(target=send)
        sender.start()
        wait_until(
            lambda: faults.cluster.query(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE 'INSERT INTO \"customers_purchase\"%%'"
            ),
            seconds=20,
            what="the bulk request to block on its INSERT",
        )
        faults.cluster.restart()  # ends every session: the request's and this lock's
        sender.join(timeout=30)
    finally:
        lock.close()

    _assert_unavailable(outcome["answer"], api=True)
    # The key is released (the pool had a connection again within its wait, as the restart
    # took less) or stays in flight (the database was still away when the request failed) ...
    assert faults.cluster.query(
        "SELECT response_status FROM crm_api_idempotencykey WHERE key = %s",
        (key["Idempotency-Key"],),
    ) in ([], [(None,)])
    wait_until(lambda: _api_answers(faults), seconds=RECOVERY_SECONDS, what="the API back")

    # ... and the retry takes it at once: free, or its holder's session ended with the restart.
    retried = faults.request("POST", "/api/v1/purchases/bulk/", body, headers=key)
    replayed = faults.request("POST", "/api/v1/purchases/bulk/", body, headers=key)

    assert retried.status == 201, retried.body
    assert retried.json()["created"] == 20
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert faults.cluster.query(
        "SELECT count(*) FROM customers_purchase WHERE external_id LIKE 'R-%%'"
    ) == [(20,)]


def test_a_hung_database_answers_503_within_its_deadline_then_recovers(faults: FaultWorld) -> None:
    # The server holds a connection open to the database, as it does between requests.
    assert _api_answers(faults)
    faults.cluster.hang()
    try:
        on_open_connection = faults.request("GET", "/api/v1/customers/?limit=1")
        on_new_connection = faults.request("GET", f"/s/{faults.survey_token}/")
    finally:
        faults.cluster.resume()

    _assert_unavailable(on_open_connection, api=True)
    _assert_unavailable(on_new_connection, api=False)
    assert on_open_connection.seconds < HUNG_SECONDS
    assert on_new_connection.seconds < HUNG_SECONDS
    wait_until(lambda: _api_answers(faults), seconds=RECOVERY_SECONDS, what="the API back")
