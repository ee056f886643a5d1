"""The SSE view: who may open it, the stream's frames, cleaning up when the page goes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.db import close_old_connections
from django.test import AsyncClient

from live import bus, push

pytestmark = pytest.mark.django_db


def test_anonymous_gets_401_and_non_staff_403(integration) -> None:
    async def scenario() -> None:
        client = AsyncClient()
        assert (await client.get("/live/events/")).status_code == 401
        await client.aforce_login(integration)
        assert (await client.get("/live/events/")).status_code == 403

    async_to_sync(scenario)()


def test_the_stream_carries_the_operators_screen_pop_and_unsubscribes_on_close(
    operator, other_team_operator, settings
) -> None:
    settings.LIVE_REDIS_URL = ""

    async def scenario() -> None:
        client = AsyncClient()
        await client.aforce_login(operator)
        response = await client.get("/live/events/")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        chunks = aiter(response.streaming_content)  # type: ignore[attr-defined]
        ready = (await anext(chunks)).decode()
        assert "event: ready" in ready and "retry: 2000" in ready
        push.screen_pop(
            operator_ids=[other_team_operator.pk], phone="+79990000000", customer_ids=[], call_id=1
        )
        push.screen_pop(
            operator_ids=[operator.pk],
            phone="+79161234567",
            customer_ids=[3],
            call_id=2,
            panel="<section>Anna</section>",
        )
        frame = (await asyncio.wait_for(anext(chunks), 5)).decode()
        lines = dict(line.split(": ", 1) for line in frame.strip().splitlines())
        assert lines["event"] == "screen_pop"
        assert json.loads(lines["data"]) == {
            "phone": "+79161234567",
            "customer_ids": [3],
            "call_id": 2,
            "panel": "<section>Anna</section>",
        }
        assert int(lines["id"]) > 0
        await chunks.aclose()

    async_to_sync(scenario)()


def test_a_page_that_goes_away_is_unsubscribed(client, operator, settings) -> None:
    """Through the ASGI application as a server drives it: the browser disconnects."""
    from crm.asgi import application

    settings.LIVE_REDIS_URL = ""
    client.force_login(operator)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/live/events/",
        "raw_path": b"/live/events/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent: list[Mapping[str, Any]] = []
    subscribed_while_open: list[int] = []

    async def scenario() -> None:
        gone = asyncio.Event()
        requested = False

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            sent.append(message)
            if b"event: ready" in message.get("body", b""):
                subscribed_while_open.append(bus.hub.subscription_count)
                gone.set()

        await asyncio.wait_for(application(scope, receive, send), 10)

    # As Django's test clients do: the request must not close the test's own connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(scenario)()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert sent[0]["status"] == 200
    assert subscribed_while_open == [1]
    assert bus.hub.subscription_count == 0


def test_heartbeat_comments_keep_an_idle_stream_open(operator, settings) -> None:
    settings.LIVE_REDIS_URL = ""
    settings.LIVE_HEARTBEAT_SECONDS = 0.05

    async def scenario() -> None:
        client = AsyncClient()
        await client.aforce_login(operator)
        response = await client.get("/live/events/")
        chunks = aiter(response.streaming_content)  # type: ignore[attr-defined]
        await anext(chunks)
        assert (await asyncio.wait_for(anext(chunks), 2)).decode() == ": heartbeat\n\n"
        await chunks.aclose()

    async_to_sync(scenario)()


def test_presence_lists_the_colleagues_on_the_same_ticket(client, operator, supervisor) -> None:
    client.force_login(operator)
    assert client.post("/live/presence/", {"ticket": 5}).json() == {"others": []}
    client.force_login(supervisor)
    answer = client.post("/live/presence/", {"ticket": 5, "state": "replying"}).json()
    assert answer["others"] == [{"user_id": operator.pk, "name": str(operator), "state": "viewing"}]
    client.force_login(operator)
    answer = client.post("/live/presence/", {"ticket": 5}).json()
    assert answer["others"] == [
        {"user_id": supervisor.pk, "name": str(supervisor), "state": "replying"}
    ]
    assert client.post("/live/presence/", {"ticket": 6}).json() == {"others": []}


def test_presence_rejects_bad_input_with_400(client, operator) -> None:
    client.force_login(operator)
    assert client.post("/live/presence/", {"ticket": "x"}).status_code == 400
    assert client.post("/live/presence/", {"ticket": 1, "state": "dancing"}).status_code == 400


def test_a_wsgi_server_answers_no_content_so_the_browser_stops_asking(client, operator) -> None:
    """runserver and pytest's live server are WSGI: a stream would hold a thread for ever."""
    client.force_login(operator)
    assert client.get("/live/events/").status_code == 204
