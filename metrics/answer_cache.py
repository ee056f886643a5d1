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
- A cache that fails (Redis down or hung) is no cache: the error is logged and the answer
  computed, never a 500.

The cache stores what it is given; it knows nothing of how metrics are computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

VERSION_KEY = "metrics:answers:version"
KEY_PREFIX = "metrics:answers"


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


def cached(question: Mapping[str, Any], answer: Callable[[], Any]) -> Any:
    """The stored answer to `question` (a JSON-able description of the request), or
    `answer()` computed now and stored."""
    seconds = lifetime()
    if seconds <= 0:
        return answer()
    key = None
    try:
        key = _key(question)
        found = cache.get(key)
    except Exception:  # a cache outage is no cache (docstring)
        logger.warning("metrics answer cache unreadable; computing", exc_info=True)
        found = None
    if found is not None:
        return found
    computed = answer()
    if key is not None:
        try:
            cache.set(key, computed, timeout=seconds)
        except Exception:
            logger.warning("metrics answer cache unwritable; answer not kept", exc_info=True)
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
