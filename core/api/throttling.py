"""Request rate limits per token (per authenticated user), configured in settings.

DRF's own throttles keep every request's timestamp in the cache, a list read and rewritten
whole on every request: at the API's 20000/hour or a PBX's 200/second that is ~180 KB per
token. `WindowRateThrottle` keeps one small integer per token and window instead.
"""

from __future__ import annotations

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
    """

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
        count = self._count(f"{ident_key}:{window}")
        return count is None or count <= self.num_requests

    def _count(self, key: str) -> int | None:
        """This request's number in its window; None when the cache cannot count."""
        timeout = self.duration + WINDOW_KEY_MARGIN_SECONDS
        count = getattr(self.cache, "count", None)
        if count is not None:  # Redis (core/cache.py): one round trip
            return count(key, timeout)
        try:
            return int(self.cache.incr(key))
        except ValueError:  # the window's first request, or no cache
            pass
        if self.cache.add(key, 1, timeout=timeout):
            return 1
        try:  # another request started the window between our incr and add
            return int(self.cache.incr(key))
        except ValueError:  # the cache is unavailable: fail open
            return None

    def wait(self) -> float:
        """Seconds until the window ends: the Retry-After header (DRF rounds it up)."""
        return self.window_ends_at - self.now


class TokenRateThrottle(WindowRateThrottle):
    """The API's rate per token, read from settings.API_THROTTLE_RATE on every request."""

    scope = "user"

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATE or None
