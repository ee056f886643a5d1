"""The cache answers as an empty cache while Redis refuses, and stops asking for a while."""

from __future__ import annotations

import time

import pytest

from core.cache import REDIS_FAILURES, FailSoftRedisCache

# Nothing listens on port 9 of the loopback (discard): every connection is refused at once.
DEAD_REDIS = "redis://127.0.0.1:9/0"


@pytest.fixture
def dead_cache() -> FailSoftRedisCache:
    backend = FailSoftRedisCache(
        DEAD_REDIS,
        {
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
                "CACHE_RETRY_SECONDS": 60,
            }
        },
    )
    backend.breaker.reset()
    return backend


def test_an_unreachable_redis_reads_as_an_empty_cache(dead_cache: FailSoftRedisCache) -> None:
    dead_cache.set("answer", 42)

    assert dead_cache.get("answer") is None
    assert dead_cache.get("answer", "default") == "default"
    assert dead_cache.add("answer", 42) is False
    assert dead_cache.get_many(["answer"]) == {}
    assert dead_cache.has_key("answer") is False
    assert dead_cache.delete("answer") is False
    with pytest.raises(ValueError):
        dead_cache.incr("answer")


def test_after_a_failure_redis_is_left_alone_until_the_retry_interval(
    dead_cache: FailSoftRedisCache,
) -> None:
    dead_cache.get("answer")
    assert dead_cache.breaker.is_open()

    started = time.monotonic()
    for _ in range(100):
        dead_cache.get("answer")

    # No connection attempt at all: a hung Redis would cost 0.5 s per call otherwise.
    assert time.monotonic() - started < 0.1


def test_the_health_ping_still_reports_an_unreachable_redis(
    dead_cache: FailSoftRedisCache,
) -> None:
    with pytest.raises(REDIS_FAILURES):
        dead_cache.ping()
