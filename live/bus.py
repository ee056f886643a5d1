"""The live bus: publish an event for some operators, subscribe to the events meant for one.

`publish()` is synchronous and safe from any thread or process (services call it after their
transaction commits). With `settings.LIVE_REDIS_URL` (REDIS_URL by default) the message goes
through one Redis pub/sub channel, and each web process runs one listener that hands it to the
connections it serves, so any number of processes serve the same events. Without Redis (the
quick start) the message goes straight to the connections of this process.

A message reaches a subscriber when it names no users and no teams (everyone), or names the
subscriber's user or team. `topic` (e.g. "ticket:42") lets a page keep only what it shows.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

from core.cache import breaker_for

logger = logging.getLogger(__name__)

CHANNEL = "crm:live"
# Recent messages kept per process for a reconnecting page's Last-Event-ID.
REPLAY_SIZE = 500
QUEUE_SIZE = 200


@dataclass(frozen=True)
class Message:
    id: str
    event: str
    data: dict[str, Any]
    user_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    topic: str | None = None

    def reaches(self, *, user_id: int, team_id: int | None) -> bool:
        if not self.user_ids and not self.team_ids:
            return True
        return user_id in self.user_ids or (team_id is not None and team_id in self.team_ids)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "event": self.event,
                "data": self.data,
                "user_ids": list(self.user_ids),
                "team_ids": list(self.team_ids),
                "topic": self.topic,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Message:
        payload = json.loads(raw)
        return cls(
            id=str(payload["id"]),
            event=str(payload["event"]),
            data=dict(payload["data"]),
            user_ids=tuple(int(i) for i in payload["user_ids"]),
            team_ids=tuple(int(i) for i in payload["team_ids"]),
            topic=payload.get("topic"),
        )


def _redis_url() -> str:
    return str(getattr(settings, "LIVE_REDIS_URL", "") or "")


_id_lock = threading.Lock()
_last_id = 0


def _next_id() -> str:
    """Ids grow with time across processes (microseconds), and strictly within one."""
    global _last_id
    with _id_lock:
        _last_id = max(_last_id + 1, time.time_ns() // 1000)
        return str(_last_id)


_sync_clients: dict[str, redis.Redis] = {}


def publish(
    event: str,
    data: dict[str, Any],
    *,
    user_ids: Iterable[int] = (),
    team_ids: Iterable[int] = (),
    topic: str | None = None,
) -> Message:
    """Send `event` with JSON-able `data` to the named users and teams (everyone if none)."""
    message = Message(
        id=_next_id(),
        event=event,
        data=data,
        user_ids=tuple(sorted({int(i) for i in user_ids})),
        team_ids=tuple(sorted({int(i) for i in team_ids})),
        topic=topic,
    )
    url = _redis_url()
    if url:
        # A live update is a courtesy: the page still shows the truth on the next load. A dead
        # or hung Redis costs one bounded timeout, then is left alone for a while (core/cache.py).
        breaker = breaker_for(url, settings.REDIS_RETRY_SECONDS)
        if breaker.is_open():
            return message
        client = _sync_clients.get(url)
        if client is None:
            client = _sync_clients[url] = redis.Redis.from_url(
                url,
                socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_SECONDS,
                socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
            )
        try:
            client.publish(CHANNEL, message.to_json())
        except (redis.RedisError, OSError) as exc:
            breaker.trip(exc)
            logger.warning("live: could not publish %s: %s", event, exc)
    else:
        hub.dispatch(message)
    return message


@dataclass(eq=False)
class Subscription:
    """One open page: its queue lives on the event loop that serves it."""

    user_id: int
    team_id: int | None
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, message: Message) -> None:
        """Called on the subscription's own loop."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A page that cannot keep up is dropped; it reconnects with Last-Event-ID.
            self.overflowed = True


class Hub:
    """The subscriptions of this process, and one Redis listener per event loop serving them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._recent: collections.deque[Message] = collections.deque(maxlen=REPLAY_SIZE)
        self._listeners: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._ready: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    def dispatch(self, message: Message) -> None:
        """Hand a message to every subscription it reaches, from any thread."""
        with self._lock:
            self._recent.append(message)
            targets = [
                s
                for s in self._subscriptions
                if message.reaches(user_id=s.user_id, team_id=s.team_id)
            ]
        for subscription in targets:
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                subscription.loop.call_soon_threadsafe(subscription.offer, message)

    def replay(self, *, after: str, user_id: int, team_id: int | None) -> list[Message]:
        with self._lock:
            recent = list(self._recent)
        try:
            last = int(after)
        except ValueError:
            return []
        return [
            m for m in recent if int(m.id) > last and m.reaches(user_id=user_id, team_id=team_id)
        ]

    @property
    def subscription_count(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    async def subscribe(self, *, user_id: int, team_id: int | None) -> Subscription:
        loop = asyncio.get_running_loop()
        subscription = Subscription(user_id=user_id, team_id=team_id, loop=loop)
        with self._lock:
            self._subscriptions.add(subscription)
        url = _redis_url()
        if url:
            ready = self._ensure_listener(loop, url)
            await ready.wait()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)
            still_here = any(s.loop is subscription.loop for s in self._subscriptions)
            listener = None if still_here else self._listeners.pop(subscription.loop, None)
            if listener is not None:
                self._ready.pop(subscription.loop, None)
        if listener is not None:
            listener.cancel()

    def _ensure_listener(self, loop: asyncio.AbstractEventLoop, url: str) -> asyncio.Event:
        with self._lock:
            task = self._listeners.get(loop)
            if task is None or task.done():
                ready = self._ready[loop] = asyncio.Event()
                self._listeners[loop] = loop.create_task(self._listen(url, ready))
            return self._ready[loop]

    async def _listen(self, url: str, ready: asyncio.Event) -> None:
        """Relay the Redis channel to this loop's subscriptions, reconnecting after a failure."""
        while True:
            client = aioredis.Redis.from_url(url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    ready.set()
                    async for raw in pubsub.listen():
                        if raw.get("type") != "message":
                            continue
                        try:
                            message = Message.from_json(raw["data"])
                        except (ValueError, KeyError, TypeError):
                            logger.warning("live: dropped a malformed message")
                            continue
                        self.dispatch(message)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError):
                logger.exception("live: Redis listener failed, reconnecting")
                ready.set()  # pages still open; they get events once Redis is back
                await asyncio.sleep(1)
            finally:
                await client.aclose()


hub = Hub()


async def messages(
    *, user_id: int, team_id: int | None, last_event_id: str = "", heartbeat: float
) -> AsyncGenerator[Message | None]:
    """The messages for one page as they come; None every `heartbeat` seconds of silence.

    The first item is None, once subscribed: from then on nothing published is missed. Ends
    when the page falls too far behind (it reconnects); unsubscribes however it ends.
    """
    subscription = await hub.subscribe(user_id=user_id, team_id=team_id)
    try:
        yield None
        replayed: set[str] = set()
        if last_event_id:
            for message in hub.replay(after=last_event_id, user_id=user_id, team_id=team_id):
                replayed.add(message.id)
                yield message
        # A page that fell behind gets what its queue holds, then the stream ends.
        while not (subscription.overflowed and subscription.queue.empty()):
            try:
                message = await asyncio.wait_for(subscription.queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield None
                continue
            if message.id not in replayed:
                yield message
    finally:
        hub.unsubscribe(subscription)
