"""One computation of a metrics answer at a time (metrics.answer_cache): requests asking the
same question together take the first one's answer instead of each computing it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings

from metrics import answer_cache

QUESTION = {"metrics": ["csat"], "from": "2026-01-01", "to": "2026-12-31"}
WAIT = 10  # seconds a test waits for a thread at most (never reached when it works)


@pytest.fixture(autouse=True)
def _answers_cached(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.METRICS_ANSWER_CACHE_SECONDS = 300
    monkeypatch.setattr(answer_cache, "WAIT_POLL_SECONDS", 0.001)


class ArrivalLock:
    """The process's lock for the question, telling the test who has reached it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.arrived = threading.Semaphore(0)

    def __enter__(self) -> ArrivalLock:
        self.arrived.release()
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    return thread, result


def test_requests_of_one_process_asking_together_compute_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flights: list[ArrivalLock] = []

    class ArrivalFlight:
        def __init__(self) -> None:
            self.lock = ArrivalLock()
            flights.append(self.lock)

    monkeypatch.setattr(answer_cache, "_Flight", ArrivalFlight)
    computing, release = threading.Event(), threading.Event()
    computed: list[int] = []

    def answer() -> dict[str, int]:
        computed.append(1)
        computing.set()
        assert release.wait(WAIT)
        return {"csat": len(computed)}

    first = in_thread(lambda: answer_cache.cached(QUESTION, answer))
    assert computing.wait(WAIT)
    others = [in_thread(lambda: answer_cache.cached(QUESTION, answer)) for _ in range(5)]
    for _ in range(6):  # the first and the five others have reached the question's lock
        assert flights[0].arrived.acquire(timeout=WAIT)
    assert len(flights) == 1  # one lock for the question while anyone holds it
    release.set()
    for thread, _result in [first, *others]:
        thread.join(WAIT)
    assert computed == [1]
    assert [result for _thread, result in [first, *others]] == [[{"csat": 1}]] * 6


class PollingClock:
    """answer_cache's clock, telling the test when a request waits for another's answer."""

    def __init__(self) -> None:
        self.polling = threading.Event()
        self.monotonic = time.monotonic

    def sleep(self, seconds: float) -> None:
        self.polling.set()
        time.sleep(seconds)


def test_a_request_waits_for_the_answer_another_process_is_computing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = PollingClock()
    monkeypatch.setattr(answer_cache, "time", clock)
    key = answer_cache._key(QUESTION)
    assert cache.add(f"{key}:computing", 1)  # another process claimed the question
    computed: list[int] = []

    def answer() -> dict[str, int]:
        computed.append(1)
        return {"csat": 0}

    waiter, result = in_thread(lambda: answer_cache.cached(QUESTION, answer))
    assert clock.polling.wait(WAIT)  # waiting, not computing
    cache.set(key, {"csat": 93})  # the other process's answer
    cache.delete(f"{key}:computing")
    waiter.join(WAIT)
    assert result == [{"csat": 93}]
    assert computed == []


def test_a_claim_released_without_an_answer_is_computed_by_the_waiter() -> None:
    """The process holding the claim failed (or died, and its claim expired)."""
    key = answer_cache._key(QUESTION)
    assert cache.add(f"{key}:computing", 1)
    waiter, result = in_thread(lambda: answer_cache.cached(QUESTION, lambda: {"csat": 88}))
    cache.delete(f"{key}:computing")
    waiter.join(WAIT)
    assert result == [{"csat": 88}]
    assert cache.get(key) == {"csat": 88}
    assert cache.get(f"{key}:computing") is None


def test_a_failed_computation_releases_the_claim() -> None:
    def failing() -> dict[str, int]:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        answer_cache.cached(QUESTION, failing)
    key = answer_cache._key(QUESTION)
    assert cache.get(f"{key}:computing") is None
    assert answer_cache.cached(QUESTION, lambda: {"csat": 70}) == {"csat": 70}
