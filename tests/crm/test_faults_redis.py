"""Redis stopped or hung: writes, the API, the survey page and the health check go on.

The production server (scripts/serve, DEBUG off) runs on a private PostgreSQL and a private
Redis (tests/faults_fixtures.py); the test kills or stops (SIGSTOP) that Redis and acts as an
integration and a customer would. Every write answers 2xx once and is saved once (before, the
after-commit webhook lookup read the cache and answered 500 for a saved row), and no request
waits on Redis longer than its timeouts.
"""

from __future__ import annotations

import uuid

import pytest

from tests.faults_fixtures import FaultWorld

# django_db: pytest-django sets up the test database the private cluster copies; transactional
# with serialized_rollback as the other fault tests, so that they leave each other the same data.
pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# The first call to a hung Redis waits for its timeout (0.5 s for the cache, 2 s for the
# broker); then the cache, the broker and the live bus leave that Redis alone for
# REDIS_RETRY_SECONDS. Bounds with room for a busy machine.
REQUEST_SECONDS = 4.0
ALL_REQUESTS_SECONDS = 6.0


def _customers_named(world: FaultWorld, name: str) -> int:
    return int(
        world.cluster.query(
            "SELECT count(*) FROM customers_customer WHERE full_name = %s", (name,)
        )[0][0]
    )


def _writes_go_on(world: FaultWorld) -> list[float]:
    """Create a customer, open a ticket, resolve it, list, answer the survey page: each once."""
    name = f"Faults {uuid.uuid4().hex[:8]}"
    phone = f"+7 912 {uuid.uuid4().int % 10_000_000:07d}"
    created = world.request(
        "POST",
        "/api/v1/customers/",
        {"full_name": name, "contact_points": [{"kind": "phone", "value": phone}]},
    )
    assert created.status == 201, created.body
    assert _customers_named(world, name) == 1
    customer_id = created.json()["id"]

    subject = f"Kettle {uuid.uuid4().hex[:8]}"
    opened = world.request(
        "POST",
        "/api/v1/tickets/",
        {"customer": customer_id, "subject": subject, "channel": "phone", "body": "Broken"},
    )
    assert opened.status == 201, opened.body
    ticket_id = opened.json()["number"]
    assert (
        world.cluster.query("SELECT count(*) FROM tickets_ticket WHERE subject = %s", (subject,))[
            0
        ][0]
        == 1
    )

    resolved = world.request("POST", f"/api/v1/tickets/{ticket_id}/status/", {"status": "resolved"})
    assert resolved.status == 200, resolved.body
    assert (
        world.cluster.query("SELECT status FROM tickets_ticket WHERE id = %s", (ticket_id,))[0][0]
        == "resolved"
    )

    listed = world.request("GET", "/api/v1/customers/?limit=5")
    assert listed.status == 200, listed.body

    survey = world.request("GET", f"/s/{world.survey_token}/", headers={"Accept": "text/html"})
    assert survey.status == 200, survey.body[:500]

    health = world.request("GET", "/healthz")
    assert health.status == 200
    assert health.json()["database"] == "ok"
    return [created.seconds, opened.seconds, resolved.seconds, listed.seconds, survey.seconds]


def test_with_redis_stopped_writes_the_api_and_the_survey_page_answer(faults: FaultWorld) -> None:
    faults.redis.kill()

    seconds = _writes_go_on(faults)

    assert faults.request("GET", "/healthz").json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "unavailable",
    }
    assert max(seconds) < REQUEST_SECONDS, seconds


def test_with_redis_hung_every_request_is_bounded(faults: FaultWorld) -> None:
    faults.redis.hang()

    seconds = _writes_go_on(faults)

    assert max(seconds) < REQUEST_SECONDS, seconds
    # Once Redis failed, it is left alone for a while: its timeout is not paid per request.
    assert sum(seconds) < ALL_REQUESTS_SECONDS, seconds
    health = faults.request("GET", "/healthz")
    assert health.json()["cache"] == "unavailable"
    assert health.seconds < REQUEST_SECONDS


def test_the_health_check_tells_redis_back_after_an_outage(faults: FaultWorld) -> None:
    faults.redis.kill()
    assert faults.request("GET", "/healthz").json()["cache"] == "unavailable"

    faults.redis.revive()

    assert faults.request("GET", "/healthz").json() == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
    }
