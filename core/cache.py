"""The cache degrades to "no cache" while Redis is unreachable, never to an error.

Everything the cache holds can be recomputed (webhook subscriptions, throttle counters,
rate-limit counters, presence): an answer without it is slower, not wrong. `FailSoftRedisCache`
is Django's Redis cache whose every call answers as an empty cache would when Redis refuses,
times out (the socket timeouts in settings.CACHES) or hangs; after a failure it does not ask
Redis again for `CACHE_RETRY_SECONDS`, so a dead Redis costs one timeout per process per
interval, not one per call. `Breaker` is that memory, also used by the broker and the live bus.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What an unreachable, refusing or hung Redis raises (socket timeouts are OSError subclasses).
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError)
# Seconds after a failure during which Redis is not asked again.
DEFAULT_RETRY_SECONDS = 5.0


class Breaker:
    """Remembers that a service failed: `is_open()` for `retry_seconds` after `trip()`.

    Shared by every thread of the process; a plain float is enough (a race only costs one
    extra attempt).
    """

    def __init__(self, name: str, retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        self.name = name
        self.retry_seconds = retry_seconds
        self._open_until = 0.0
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self, exc: BaseException) -> None:
        with self._lock:
            was_closed = not self.is_open()
            self._open_until = time.monotonic() + self.retry_seconds
        if was_closed:
            logger.warning(
                "%s unavailable (%s: %s); going on without it for %.0f s",
                self.name,
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )

    def reset(self) -> None:
        self._open_until = 0.0


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(url: str, retry_seconds: float = DEFAULT_RETRY_SECONDS) -> Breaker:
    """The process-wide breaker of the server at `url`: the cache, the broker and the live bus
    on one Redis learn from each other's failures."""
    parts = urlsplit(url)
    name = f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else url
    with _breakers_lock:
        breaker = _breakers.get(name)
        if breaker is None:
            breaker = _breakers[name] = Breaker(name, retry_seconds)
        return breaker


def reset_breakers() -> None:
    """Every service is tried again at once (tests start each case from a clean slate)."""
    with _breakers_lock:
        for breaker in _breakers.values():
            breaker.reset()


# INCR, and the expiry set with the first count (a key that exists keeps its own).
_COUNT_LUA = """
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class FailSoftRedisCache(RedisCache):
    """Django's RedisCache that answers as an empty cache while Redis is unreachable.

    Reads miss, writes are dropped, `add` reports that nothing was added, `incr` raises
    ValueError as for a missing key. OPTIONS take `CACHE_RETRY_SECONDS` (the breaker's interval)
    beside redis-py's own options (socket_connect_timeout, socket_timeout).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        retry_seconds = float(options.pop("CACHE_RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
        super().__init__(server, {**params, "OPTIONS": options})
        self.breaker = breaker_for(server, retry_seconds)
        # The counting script (its SHA made once; EVALSHA, loaded again if Redis restarted).
        self._count_script: Any = None

    def _soft(self, call: Callable[[], T], fallback: T) -> T:
        if self.breaker.is_open():
            return fallback
        try:
            return call()
        except REDIS_FAILURES as exc:
            self.breaker.trip(exc)
            return fallback

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._soft(
            lambda: super(FailSoftRedisCache, self).add(key, value, timeout, version), False
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._soft(
            lambda: super(FailSoftRedisCache, self).get(key, default, version), default
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._soft(lambda: super(FailSoftRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._soft(
            lambda: super(FailSoftRedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._soft(lambda: super(FailSoftRedisCache, self).delete(key, version), False)

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        keys = list(keys)
        return self._soft(lambda: super(FailSoftRedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._soft(lambda: super(FailSoftRedisCache, self).has_key(key, version), False)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        missing = object()
        value = self._soft(
            lambda: super(FailSoftRedisCache, self).incr(key, delta, version), missing
        )
        if value is missing:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable)")
        return int(value)  # type: ignore[call-overload]

    def count(self, key: Any, timeout: int, version: Any = None, *, amount: int = 1) -> int | None:
        """Add `amount` (one) to a counter that expires `timeout` seconds after its first
        count, and return it: one atomic command (a server-side script: INCRBY, and EXPIRE on
        the first count), where Django's `add` and `incr` take two or three round trips. None
        while Redis is unavailable."""

        def call() -> int:
            name = self.make_and_validate_key(key, version=version)
            client = self._cache.get_client(name, write=True)
            # Django makes a client per call: the script is run through this one.
            if self._count_script is None:
                self._count_script = client.register_script(_COUNT_LUA)
            args = [max(1, int(timeout)), max(1, int(amount))]
            return int(self._count_script(keys=[name], args=args, client=client))

        return self._soft(call, None)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> list[Any]:
        return self._soft(
            lambda: super(FailSoftRedisCache, self).set_many(data, timeout, version), list(data)
        )

    def delete_many(self, keys: Iterable[Any], version: Any = None) -> None:
        keys = list(keys)
        self._soft(lambda: super(FailSoftRedisCache, self).delete_many(keys, version), None)

    def clear(self) -> None:
        self._soft(lambda: super(FailSoftRedisCache, self).clear(), None)

    def ping(self) -> None:
        """Raise what Redis raises if it is unreachable (the health check asks this)."""
        self._cache.get_client(write=False).ping()
