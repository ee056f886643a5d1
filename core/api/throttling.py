"""Request rate limits per token (per authenticated user), configured in settings.

DRF's own throttles keep every request's timestamp in the cache, a list read and rewritten
whole on every request: at the API's 20000/hour or a PBX's 200/second that is ~180 KB per
token. `WindowRateThrottle` keeps one small integer per token and window instead.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

# Seconds a window's counter outlives the window: a request that read the clock just before
# the window ended still finds its counter (Django's Redis `incr` checks that the key exists,
# then increments it; a key expiring in between would come back without an expiry).
WINDOW_KEY_MARGIN_SECONDS = 5


class WindowRateThrottle(UserRateThrottle):
    """A fixed-window counter: `rate` requests per window, counted by one atomic increment
    (on Redis one round trip that also sets the expiry: `FailSoftRedisCache.count`; it was a
    quarter of the caller-ID lookup's time as Django's `incr`, an EXISTS then an INCRBY).

    Windows are aligned on the epoch (an hourly rate resets on the hour); the counter's key
    names its window (`throttle:<scope>:<user or address>:<window index>`) and expires with it,
    so a counter left from an earlier window never blocks a later one. A fixed window lets
    through up to twice the rate across a window's edge (the rate at the end of one window and
    again at the start of the next); the rates here are generous bounds against runaway
    clients, not quotas, and that costs one counter per request instead of a history.

    While the cache is unavailable (core/cache.py: `add` reports nothing added, `incr` raises
    ValueError as for a missing key) requests are let through: the limit fails open.

    Numbers are taken from the counter in blocks (`block_size()`: one per thousand of the rate,
    so twenty at the API's 20000/hour, one, that is every request counted, below 2000): a
    process adds a block to the window's counter in one round trip and hands its numbers out
    to the next requests of that token without asking the cache again. Every number is
    still given once in the window, so no more than the rate is ever let through; a block
    not used up by the window's end (at most one per process and token) is counted as used,
    so a token may be refused up to one per thousand of its rate per process early.
    """

    # Numbers taken from the counter at once, per thousand of the rate.
    block_per_mille = 1

    cache_format = "throttle:%(scope)s:%(ident)s"
    # Set by DRF's __init__ from the rate (None without one: allow_request returns first).
    num_requests: int
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        ident_key = self.get_cache_key(request, view)
        if ident_key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        key = f"{ident_key}:{window}"
        block = self.block_size()
        if block > 1:
            number = _leases.take(key)
            if number is not None:
                return number <= self.num_requests
        count = self._count(key, block)
        if count is None:
            return True
        if block > 1:  # this request takes the block's first number, the next ones the rest
            number = count - block + 1
            _leases.keep(key, number + 1, count, self.window_ends_at)
            return number <= self.num_requests
        return count <= self.num_requests

    def block_size(self) -> int:
        return max(1, self.num_requests * self.block_per_mille // 1000)

    def _count(self, key: str, amount: int = 1) -> int | None:
        """The window's count after adding `amount`; None when the cache cannot count."""
        timeout = self.duration + WINDOW_KEY_MARGIN_SECONDS
        count = getattr(self.cache, "count", None)
        if count is not None:  # Redis (core/cache.py): one round trip
            return count(key, timeout, amount=amount)
        try:
            return int(self.cache.incr(key, amount))
        except ValueError:  # the window's first request, or no cache
            pass
        if self.cache.add(key, amount, timeout=timeout):
            return amount
        try:  # another request started the window between our incr and add
            return int(self.cache.incr(key, amount))
        except ValueError:  # the cache is unavailable: fail open
            return None

    def wait(self) -> float:
        """Seconds until the window ends: the Retry-After header (DRF rounds it up)."""
        return self.window_ends_at - self.now


class _Leases:
    """The numbers this process holds of each window's counter: key -> [next, last, ends]."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, list[float]] = {}
        self._sweep_at = _LEASES_SWEEP_AT

    def take(self, key: str) -> int | None:
        with self._lock:
            held = self._held.get(key)
            if held is None:
                return None
            number = int(held[0])
            if number >= held[1]:  # the last one: the next request takes a new block
                del self._held[key]
            else:
                held[0] = number + 1
            return number

    def keep(self, key: str, first: int, last: int, ends_at: float) -> None:
        if first > last:
            return
        with self._lock:
            # A window that ended keeps nothing; one key per token and window at most. With
            # more tokens in their windows than the threshold, the next sweep waits until
            # their number doubles (a sweep per block would cost as much as the tokens).
            if len(self._held) >= self._sweep_at:
                now = time.time()
                self._held = {k: v for k, v in self._held.items() if v[2] > now}
                self._sweep_at = max(_LEASES_SWEEP_AT, 2 * len(self._held))
            self._held[key] = [first, last, ends_at]

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._sweep_at = _LEASES_SWEEP_AT

    def __len__(self) -> int:
        return len(self._held)


# Held blocks are swept of ended windows when this many keys are held.
_LEASES_SWEEP_AT = 1000
_leases = _Leases()


def forget_held_numbers() -> None:
    """Drop the blocks this process holds (tests: each starts from the cache's counters)."""
    _leases.clear()


class TokenRateThrottle(WindowRateThrottle):
    """The API's rate per token, read from settings.API_THROTTLE_RATE on every request."""

    scope = "user"

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATE or None
