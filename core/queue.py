"""Fail-soft enqueueing: the web app keeps serving when the broker (Redis) is down.

Rows that a task would deliver stay `pending` in the database when the broker cannot take
the task; the `deliveries` sweep enqueues them again once it can, so no action is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from core.cache import breaker_for

logger = logging.getLogger(__name__)

# What a broker that is down, unreachable or refusing raises while publishing.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    RedisError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def enqueue(task: Task[Any, Any], **kwargs: Any) -> bool:
    """Send `task` with keyword arguments; log and return False when the broker is down.

    Publishing is not retried here (the connection timeout is CELERY_BROKER_CONNECTION_TIMEOUT):
    a request must not hang on a dead broker, and the sweep catches up later. After a failure
    the broker is not tried again for REDIS_RETRY_SECONDS: a hung broker costs one timeout per
    process per interval, not one per request.
    """
    conf = task.app.conf
    # Tasks run inline (no broker: the quick start, tests) need no breaker.
    breaker = (
        None
        if conf.task_always_eager
        else breaker_for(str(conf.broker_url), settings.REDIS_RETRY_SECONDS)
    )
    if breaker is not None and breaker.is_open():
        logger.info("broker unavailable: %s %s left for the sweep", task.name, kwargs)
        return False
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except BROKER_ERRORS as exc:
        if breaker is not None:
            breaker.trip(exc)
        logger.warning("could not enqueue %s %s, left for the sweep: %s", task.name, kwargs, exc)
        return False
    return True


def enqueue_on_commit(task: Task[Any, Any], **kwargs: Any) -> None:
    """Enqueue `task` once the current transaction commits (never for a rolled-back row)."""
    from django.db import transaction

    transaction.on_commit(lambda: enqueue(task, **kwargs))
