"""Helpers for the delivery tests: a recording channel backend, eager Celery, a frozen clock."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from crm.celery import app as celery_app
from customers.delivery.backends import OutgoingMessage

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def moscow(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """An aware datetime on the site's clock (Europe/Moscow)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


class RecordingBackend:
    """A channel backend that keeps what it sent and fails on demand (class-level, so the
    instance that `get_backend` makes each time shares it)."""

    sent: list[OutgoingMessage] = []
    failures: list[Exception] = []
    lock = threading.Lock()

    def __init__(self, **options: object) -> None:
        self.options = options

    def send(self, message: OutgoingMessage) -> str:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append(message)
            return f"rec-{len(self.sent)}"

    @classmethod
    def reset(cls) -> None:
        cls.sent = []
        cls.failures = []


@pytest.fixture
def recording_backend(settings: SettingsWrapper) -> Iterator[type[RecordingBackend]]:
    """SMS and messenger go to RecordingBackend; mail goes to Django's locmem outbox."""
    RecordingBackend.reset()
    settings.SMS_BACKEND = "tests.delivery_fixtures.RecordingBackend"
    settings.MESSENGER_BACKEND = "tests.delivery_fixtures.RecordingBackend"
    settings.SITE_URL = "https://crm.example.com"
    settings.DELIVERY_QUIET_HOURS_START = "21:00"
    settings.DELIVERY_QUIET_HOURS_END = "09:00"
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.OUTBOX_RETRY_BASE_SECONDS = 60
    settings.OUTBOX_RETRY_JITTER = 0  # exact back-off times; tests/core/test_outbox.py spreads
    settings.REMINDER_LEAD_DAYS = {"warranty": [30, 7], "support": [30, 7], "renewal": [14, 3]}
    yield RecordingBackend
    RecordingBackend.reset()


@pytest.fixture
def eager_celery(settings: SettingsWrapper) -> Iterator[None]:
    """Run tasks inline even when REDIS_URL is set (the PostgreSQL CI run)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous
