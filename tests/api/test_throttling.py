"""The API's rate limit: one counter per token and window, a Retry-After to the window's end."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import User
from core.api.throttling import WindowRateThrottle
from tests.api_fixtures import ClientFor

# A minute's window starts at every multiple of 60 s since the epoch.
WINDOW_START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, a multiple of 60


class Clock:
    """The throttle's clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(WINDOW_START + 20.5)
    monkeypatch.setattr(WindowRateThrottle, "timer", staticmethod(frozen))
    return frozen


def _window_key(user: User, now: float, seconds: int = 60) -> str:
    return f"throttle:user:{user.pk}:{int(now // seconds)}"


def test_the_count_per_token_is_one_small_integer(
    client_for: ClientFor, operator: User, settings: Any, clock: Clock
) -> None:
    settings.API_THROTTLE_RATE = "100/minute"
    client = client_for(operator)

    for _ in range(5):
        assert client.get("/api/v1/customers/").status_code == 200

    # Not DRF's list of every request's timestamp, which grew with the rate.
    assert cache.get(_window_key(operator, clock.now)) == 5
    assert cache.get(f"throttle_user_{operator.pk}") is None


def test_at_the_limit_the_answer_is_429_with_seconds_to_the_windows_end(
    client_for: ClientFor, operator: User, settings: Any, clock: Clock
) -> None:
    settings.API_THROTTLE_RATE = "3/minute"
    client = client_for(operator)

    codes = [client.get("/api/v1/customers/").status_code for _ in range(3)]
    refused = client.get("/api/v1/customers/")

    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"  # 20.5 s into the minute: 39.5 s left, rounded up
    assert refused.json()["code"] == "throttled"


def test_a_new_window_starts_a_new_count(
    client_for: ClientFor, operator: User, settings: Any, clock: Clock
) -> None:
    settings.API_THROTTLE_RATE = "2/minute"
    client = client_for(operator)
    codes = [client.get("/api/v1/customers/").status_code for _ in range(3)]

    clock.now = WINDOW_START + 60  # the next minute

    assert codes == [200, 200, 429]
    assert client.get("/api/v1/customers/").status_code == 200


def test_a_counter_left_from_an_earlier_window_does_not_block(
    client_for: ClientFor, operator: User, settings: Any, clock: Clock
) -> None:
    settings.API_THROTTLE_RATE = "2/minute"
    # A counter that never expired (a cache that lost its expiry) far over the limit.
    cache.set(_window_key(operator, clock.now - 60), 1_000, timeout=None)

    assert client_for(operator).get("/api/v1/customers/").status_code == 200


class RecordingCache:
    """The cache, noting the timeout each counter is created with and counting the
    throttle's calls (each a round trip on Redis)."""

    def __init__(self) -> None:
        self.timeouts: list[Any] = []
        self.calls = 0

    def incr(self, key: str, delta: int = 1) -> int:
        self.calls += 1
        return int(cache.incr(key, delta))

    def add(self, key: str, value: int, timeout: Any) -> bool:
        self.calls += 1
        self.timeouts.append(timeout)
        return bool(cache.add(key, value, timeout=timeout))


def test_the_counter_expires_with_its_window(
    client_for: ClientFor,
    operator: User,
    settings: Any,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.API_THROTTLE_RATE = "2/minute"
    recording = RecordingCache()
    monkeypatch.setattr(WindowRateThrottle, "cache", recording)

    client_for(operator).get("/api/v1/customers/")

    # The window's length and a few seconds, never "forever" (None) nor the cache's default.
    assert len(recording.timeouts) == 1 and 60 < recording.timeouts[0] <= 70


def test_the_limit_fails_open_while_the_cache_is_unreachable(
    client_for: ClientFor, operator: User, settings: Any
) -> None:
    settings.API_THROTTLE_RATE = "1/minute"
    client = client_for(operator)
    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.FailSoftRedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    codes = [client.get("/api/v1/customers/").status_code for _ in range(3)]

    assert codes == [200, 200, 200]


def test_on_redis_the_counter_is_counted_in_one_round_trip_and_expires_with_its_window(
    client_for: ClientFor, operator: User, settings: Any, clock: Clock
) -> None:
    from django.core.cache import caches

    from core.cache import FailSoftRedisCache

    backend = caches["default"]
    if not isinstance(backend, FailSoftRedisCache):
        pytest.skip("the Redis cache (REDIS_URL) counts in one round trip")
    settings.API_THROTTLE_RATE = "2/minute"
    client = client_for(operator)
    redis_client = backend._cache.get_client(write=True)
    sent: list[Any] = []
    real_execute_command = type(redis_client).execute_command

    def execute_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(args[0])
        return real_execute_command(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(redis_client), "execute_command", execute_command)
        codes = [client.get("/api/v1/customers/").status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    # One command a request (EVALSHA; EVAL once if the script was not loaded yet).
    counting = [command for command in sent if command in ("EVALSHA", "EVAL", "SCRIPT LOAD")]
    assert counting in (["EVALSHA"] * 3, ["EVALSHA", "EVAL", "EVALSHA", "EVALSHA"])
    assert not {"EXISTS", "INCRBY", "INCR", "EXPIRE"} & set(sent)  # (GET, SET: the token cache)
    name = backend.make_and_validate_key(_window_key(operator, clock.now))
    assert 60 < backend._cache.get_client(name).ttl(name) <= 65
    assert cache.get(_window_key(operator, clock.now)) == 3


def test_at_a_high_rate_numbers_are_taken_in_blocks_and_never_more_than_the_rate_pass(
    client_for: ClientFor,
    operator: User,
    settings: Any,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blocks of five (one per thousand of 5000 a minute; here a tenth of 50, for a short
    test). Three "processes" (each its own held blocks, one counter in the cache) let
    exactly the rate through in the window and refuse the rest; within a block no request
    asks the cache."""
    from core.api import throttling

    settings.API_THROTTLE_RATE = "50/minute"
    monkeypatch.setattr(WindowRateThrottle, "block_per_mille", 100)
    counting = RecordingCache()
    monkeypatch.setattr(WindowRateThrottle, "cache", counting)
    processes = [throttling._Leases() for _ in range(3)]
    client = client_for(operator)

    codes = []
    for request in range(60):
        monkeypatch.setattr(throttling, "_leases", processes[request % 3])
        codes.append(client.get("/api/v1/contact-points/?page_size=1").status_code)

    assert codes.count(200) == 50 and codes.count(429) == 10
    # One call to the cache per block of five (an add and an incr for the first).
    assert counting.calls <= 60 // 5 + 3 + 1
    # Refused only once the counter had given the whole rate out: the first refusal comes
    # after at least 50 - 3 * 4 requests (three processes' blocks not used up).
    assert codes.index(429) >= 50 - 3 * 4


def test_below_the_block_size_every_request_is_counted_in_the_cache(
    client_for: ClientFor, operator: User, settings: Any, clock: Clock
) -> None:
    settings.API_THROTTLE_RATE = "1999/minute"  # one per thousand is one
    client = client_for(operator)

    for _ in range(3):
        assert client.get("/api/v1/contact-points/?page_size=1").status_code == 200

    assert cache.get(_window_key(operator, clock.now)) == 3


def test_a_held_block_is_not_used_in_the_next_window(
    client_for: ClientFor, operator: User, settings: Any, clock: Clock
) -> None:
    settings.API_THROTTLE_RATE = "4000/minute"  # one per thousand: blocks of four
    client = client_for(operator)
    client.get("/api/v1/contact-points/?page_size=1")
    assert cache.get(_window_key(operator, clock.now)) == 4

    clock.now += 60
    client.get("/api/v1/contact-points/?page_size=1")

    assert cache.get(_window_key(operator, clock.now)) == 4


def test_held_blocks_of_ended_windows_are_swept_and_live_ones_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Held numbers are dropped once their window ended (at the sweep threshold); with more
    live windows than the threshold, sweeps wait for the number to double."""
    import time

    from core.api import throttling

    monkeypatch.setattr(throttling, "_LEASES_SWEEP_AT", 4)
    leases = throttling._Leases()
    now = time.time()
    for token in range(3):
        leases.keep(f"ended:{token}", 1, 5, now - 1)
    leases.keep("live:0", 1, 5, now + 60)  # four held: the next keep sweeps
    leases.keep("live:1", 1, 5, now + 60)

    assert len(leases) == 2 and leases.take("ended:0") is None
    assert leases.take("live:0") == 1 and leases.take("live:0") == 2
    for token in range(2, 6):
        leases.keep(f"live:{token}", 1, 5, now + 60)
    assert len(leases) == 6  # all live: none dropped, the threshold grown
    assert leases._sweep_at == 8  # twice the four live ones it found
