"""The web process's database connections: a pool per worker, never more, whatever the load.

Under ASGI each request runs in a thread of its own; with persistent connections every request
left one open (96 after twenty seconds of load, then "too many clients already"). The
production server here (scripts/serve on a private cluster, one worker, the default pool of
ten: tests/faults_fixtures.py) takes parallel requests and open live pages (server-sent
events, which stream for as long as the page is open), and the cluster's own count of
connections stays within the pool while every request is answered.
"""

from __future__ import annotations

import datetime as dt
import http.client
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.cached_db import SessionStore
from django.test import override_settings
from django.utils.crypto import get_random_string, salted_hmac

from tests.faults_fixtures import DATABASE, SECRET_KEY, FaultWorld

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

POOL_MAX_SIZE = 10  # scripts/serve's default
OPEN_PAGES = 15  # more live pages than the pool has connections
PARALLEL_REQUESTS = 200


def _connections(world: FaultWorld) -> int:
    """The server's connections to the test's database (this query's own left out)."""
    rows = world.cluster.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (DATABASE,),
    )
    return int(rows[0][0])


def _session_cookie(world: FaultWorld) -> str:
    """A signed-in session of the fault world's staff user, written as the server would."""
    user_id, password = world.cluster.query(
        "SELECT id, password FROM accounts_user WHERE username = 'faults.integration'"
    )[0]
    if not password or password.startswith("!"):
        password = make_password(get_random_string(20))
        world.cluster.query(
            "UPDATE accounts_user SET password = %s WHERE id = %s RETURNING id",
            (password, user_id),
        )
    with override_settings(SECRET_KEY=SECRET_KEY):
        auth_hash = salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            password,
            algorithm="sha256",
        ).hexdigest()
        data = SessionStore().encode(
            {
                "_auth_user_id": str(user_id),
                "_auth_user_backend": "accounts.backends.CachedModelBackend",
                "_auth_user_hash": auth_hash,
            }
        )
    key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
    world.cluster.query(
        "INSERT INTO django_session (session_key, session_data, expire_date) "
        "VALUES (%s, %s, %s) RETURNING session_key",
        (key, data, dt.datetime.now(dt.UTC) + dt.timedelta(days=1)),
    )
    return key


def _open_live_page(world: FaultWorld, session: str, ready: threading.Barrier) -> Any:
    """An operator's page's event stream, read up to its first event and held open."""
    address = urlsplit(world.base_url)
    stream = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    stream.request(
        "GET",
        "/live/events/",
        headers={"Cookie": f"sessionid={session}", "Accept": "text/event-stream"},
    )
    response = stream.getresponse()
    assert response.status == 200, response.read()[:300]
    assert b"event: ready" in response.readline() + response.readline() + response.readline()
    ready.wait(timeout=60)
    return stream


def test_parallel_requests_and_open_live_pages_stay_within_the_pool(faults: FaultWorld) -> None:
    session = _session_cookie(faults)
    ready = threading.Barrier(OPEN_PAGES + 1)
    with ThreadPoolExecutor(max_workers=OPEN_PAGES) as pages:
        streams = [pages.submit(_open_live_page, faults, session, ready) for _ in range(OPEN_PAGES)]
        ready.wait(timeout=60)
        try:
            # Every page is streaming; none holds a connection, so the API still answers.
            assert faults.request("GET", "/api/v1/customers/?limit=1", timeout=10).status == 200
            with ThreadPoolExecutor(max_workers=16) as clients:
                statuses = list(
                    clients.map(
                        lambda i: (
                            faults.request(
                                "GET", f"/api/v1/customers/?limit=1&offset={i % 3}", timeout=30
                            ).status
                        ),
                        range(PARALLEL_REQUESTS),
                    )
                )
            assert statuses == [200] * PARALLEL_REQUESTS
            assert _connections(faults) <= POOL_MAX_SIZE
        finally:
            for stream in streams:
                stream.result().close()
