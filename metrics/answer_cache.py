"""The metrics API's answers kept in Django's cache, one per filter set, until the data they
read changes.

- Key: a version token and a hash of the normalised request (the period as dates, the
  slices, the sorted metric names): the same question in another spelling (`nps,csat` or
  `csat,nps`, the default period or the same dates given) finds the same answer.
- Version: a random token under `VERSION_KEY`. `data_changed()` replaces it once the
  writer's transaction commits, one callback per transaction however many rows it wrote; the
  writes that call it are the ones that uncover rolled-up days (`metrics.rollup_invalidation`:
  tickets, inbound contacts, survey answers and what scores them, offers, interests, a deleted
  operator) and the purchase summary's upkeep (purchases, product costs). A token, not a
  counter: a counter evicted from the cache would start again at a number old answers carry.
- Backstop: answers expire after `METRICS_ANSWER_CACHE_SECONDS` (0 turns the cache off).
  A slice's attribute changed on another row (a customer's segment, a product's category)
  reaches cached answers within that time, and so does a version bump lost to a cache outage.
- One computation per question at a time (no stampede): when an answer is missing (the
  first request, or right after a write bumped the version), the requests that ask for it
  together would each compute it, a dozen at once under load, each slower for the others
  (p99 2.4 s for a 0.6 s answer in the load benchmark). The first request claims the
  question (`cache.add` of a claim key, `COMPUTE_CLAIM_SECONDS`); the others, in the same
  process behind a lock per question, in other processes by reading the cache every
  `WAIT_POLL_SECONDS`, take its answer when it is stored. A claim whose holder died or
  failed is released or expires, and a waiter then computes the answer itself: waiting
  never takes longer than the claim lives.
- A cache that fails (Redis down or hung) is no cache: the error is logged and the answer
  computed, never a 500.

The cache stores what it is given; it knows nothing of how metrics are computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

VERSION_KEY = "metrics:answers:version"
KEY_PREFIX = "metrics:answers"
# How long a claim to compute an answer holds others back: above the slowest legitimate
# answer (a year of every metric at a million customers, 1.4 s on the benchmark machine),
# below gunicorn's worker timeout (scripts/serve, 60 s).
COMPUTE_CLAIM_SECONDS = 30
# How often a request waiting for another process's answer looks for it.
WAIT_POLL_SECONDS = 0.05


def lifetime() -> int:
    """Seconds an answer is kept at most (settings; 0: no caching)."""
    return int(getattr(settings, "METRICS_ANSWER_CACHE_SECONDS", 0))


def _version() -> str:
    """The current version token, made on first use (or after an eviction)."""
    token = cache.get(VERSION_KEY)
    if token is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(VERSION_KEY)
    return str(token)


def _key(question: Mapping[str, Any]) -> str:
    text = json.dumps(question, sort_keys=True, default=str)
    return f"{KEY_PREFIX}:{_version()}:{hashlib.sha256(text.encode()).hexdigest()}"


class _Flight:
    """One question being answered in this process: its lock (weakly kept, see _flight)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


_flights: weakref.WeakValueDictionary[str, _Flight] = weakref.WeakValueDictionary()
_flights_lock = threading.Lock()


def _flight(key: str) -> _Flight:
    """The process's lock for one question; it goes when no request holds it any more."""
    with _flights_lock:
        flight = _flights.get(key)
        if flight is None:
            flight = _flights[key] = _Flight()
        return flight


def _get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:  # a cache outage is no cache (docstring)
        logger.warning("metrics answer cache unreadable; computing", exc_info=True)
        return None


def _store(key: str, computed: Any, seconds: int) -> None:
    try:
        cache.set(key, computed, timeout=seconds)
    except Exception:
        logger.warning("metrics answer cache unwritable; answer not kept", exc_info=True)


def _claim(claim_key: str) -> bool:
    """Whether this request computes the answer (True too when the cache cannot say)."""
    try:
        return bool(cache.add(claim_key, 1, timeout=COMPUTE_CLAIM_SECONDS))
    except Exception:
        logger.warning("metrics answer cache: no claim; computing", exc_info=True)
        return True


def _release(claim_key: str) -> None:
    try:
        cache.delete(claim_key)
    except Exception:
        logger.warning("metrics answer cache: claim not released", exc_info=True)


def _wait_for(key: str, claim_key: str) -> Any:
    """Another process's answer once stored; None when its claim went without one."""
    deadline = time.monotonic() + COMPUTE_CLAIM_SECONDS
    while time.monotonic() < deadline:
        time.sleep(WAIT_POLL_SECONDS)
        found = _get(key)
        if found is not None:
            return found
        if _get(claim_key) is None:  # released without an answer, expired, or unreadable
            return _get(key)
    return None


def cached(question: Mapping[str, Any], answer: Callable[[], Any]) -> Any:
    """The stored answer to `question` (a JSON-able description of the request), or
    `answer()` computed now (by one request at a time, see the docstring) and stored."""
    seconds = lifetime()
    if seconds <= 0:
        return answer()
    try:
        key = _key(question)
    except Exception:
        logger.warning("metrics answer cache unreadable; computing", exc_info=True)
        return answer()
    found = _get(key)
    if found is not None:
        return found
    flight = _flight(key)  # held for the whole wait: the process keeps it only weakly
    with flight.lock:  # the process's other requests for it wait here
        found = _get(key)
        if found is not None:
            return found
        claim_key = f"{key}:computing"
        claimed = _claim(claim_key)
        if not claimed:
            found = _wait_for(key, claim_key)
            if found is not None:
                return found
        try:
            computed = answer()
            _store(key, computed, seconds)
        finally:
            if claimed:  # a waiter whose holder failed leaves any newer claim alone
                _release(claim_key)
        return computed


def _new_version() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("metrics answer cache: version not bumped", exc_info=True)


def data_changed(using: str = DEFAULT_DB_ALIAS) -> None:
    """The data the metrics read changed in the current transaction: cached answers become
    unreachable when it commits (immediately outside a transaction). One callback per
    transaction: a bulk write of thousands of rows bumps the version once."""
    connection = connections[using]
    # Django keeps the callbacks of the open transaction as (savepoint ids, function, robust);
    # one already registered (and not rolled back with its savepoint) does the job.
    if connection.in_atomic_block and any(
        entry[1] is _new_version for entry in connection.run_on_commit
    ):
        return
    transaction.on_commit(_new_version, using=using, robust=True)
