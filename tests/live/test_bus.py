"""The live bus: in-process and through Redis, targeting by user and team, replay."""

from __future__ import annotations

import asyncio
import os

import pytest
import redis
from asgiref.sync import async_to_sync

from live import bus

REDIS_URL = os.environ.get("CRM_TEST_LIVE_REDIS_URL", "redis://127.0.0.1:6379/10")


def _redis_or_skip() -> str:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


async def _collect(stream, count: int, timeout: float = 5) -> list[bus.Message]:
    got: list[bus.Message] = []

    async def take() -> None:
        async for message in stream:
            if message is not None:
                got.append(message)
                if len(got) == count:
                    return

    await asyncio.wait_for(take(), timeout)
    return got


@pytest.mark.parametrize("backend", ["in_process", "redis"])
def test_an_event_reaches_the_named_user_and_team_and_no_one_else(settings, backend) -> None:
    settings.LIVE_REDIS_URL = _redis_or_skip() if backend == "redis" else ""

    async def scenario() -> None:
        olga = bus.messages(user_id=1, team_id=10, heartbeat=30)
        ivan = bus.messages(user_id=2, team_id=20, heartbeat=30)
        assert await anext(olga) is None  # subscribed
        assert await anext(ivan) is None
        loop = asyncio.get_running_loop()
        # publish() is synchronous: services call it from worker threads.
        await loop.run_in_executor(None, lambda: bus.publish("screen_pop", {"n": 1}, user_ids=[1]))
        await loop.run_in_executor(None, lambda: bus.publish("team", {"n": 2}, team_ids=[20]))
        await loop.run_in_executor(None, lambda: bus.publish("everyone", {"n": 3}))
        olga_got = await _collect(olga, 2)
        ivan_got = await _collect(ivan, 2)
        assert [m.event for m in olga_got] == ["screen_pop", "everyone"]
        assert [m.event for m in ivan_got] == ["team", "everyone"]
        await olga.aclose()
        await ivan.aclose()

    async_to_sync(scenario)()
    assert bus.hub.subscription_count == 0  # closing a stream unsubscribes it


def test_a_heartbeat_comes_after_silence(settings) -> None:
    settings.LIVE_REDIS_URL = ""

    async def scenario() -> None:
        stream = bus.messages(user_id=1, team_id=None, heartbeat=0.05)
        assert await anext(stream) is None
        assert await asyncio.wait_for(anext(stream), 2) is None  # the heartbeat
        await stream.aclose()

    async_to_sync(scenario)()


def test_a_reconnecting_page_gets_what_it_missed_once(settings) -> None:
    settings.LIVE_REDIS_URL = ""
    first = bus.publish("a", {}, user_ids=[5])
    bus.publish("b", {}, user_ids=[5])
    bus.publish("c", {}, user_ids=[6])

    async def scenario() -> None:
        stream = bus.messages(user_id=5, team_id=None, last_event_id=first.id, heartbeat=30)
        assert await anext(stream) is None
        got = await _collect(stream, 1)
        assert [m.event for m in got] == ["b"]
        await stream.aclose()

    async_to_sync(scenario)()


def test_a_page_that_falls_behind_is_dropped_to_reconnect(settings, monkeypatch) -> None:
    settings.LIVE_REDIS_URL = ""
    monkeypatch.setattr(bus, "QUEUE_SIZE", 3)

    async def scenario() -> None:
        stream = bus.messages(user_id=7, team_id=None, heartbeat=30)
        assert await anext(stream) is None
        for n in range(10):
            bus.publish("flood", {"n": n}, user_ids=[7])
        await asyncio.sleep(0.05)  # let the loop run the queued hand-overs
        got = [m async for m in stream if m is not None]
        assert len(got) == 3  # what the queue held; then the stream ends

    async_to_sync(scenario)()
    assert bus.hub.subscription_count == 0


def test_publishing_with_redis_down_does_not_fail_the_caller(settings) -> None:
    settings.LIVE_REDIS_URL = "redis://127.0.0.1:1/10"
    message = bus.publish("x", {}, user_ids=[1])
    assert message.event == "x"
