"""Shared fixtures: personas, a frozen clock helper, and the database marker rules."""

from __future__ import annotations

import pytest
from django.db import connection
from pytest_django.fixtures import Settings

from core.api.throttling import forget_held_numbers
from core.cache import reset_breakers

pytest_plugins = [
    "tests.personas",
    "tests.card_fixtures",
    "tests.api_fixtures",
    "tests.admin_fixtures",
    "tests.faults_fixtures",
]


@pytest.fixture(autouse=True)
def _skip_postgres_only(request: pytest.FixtureRequest) -> None:
    """Tests marked `postgres` run only when the suite runs on PostgreSQL (as CI does)."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.fixture(autouse=True)
def _services_tried_again() -> None:
    """A Redis or broker failure one test caused is not remembered by the next (core/cache.py)."""
    reset_breakers()


@pytest.fixture(autouse=True)
def _throttle_blocks_forgotten() -> None:
    """A test's rate limits count from the cache's counters, not from numbers held by this
    process since an earlier test (core/api/throttling.py)."""
    forget_held_numbers()


@pytest.fixture(autouse=True)
def _test_settings(settings: Settings) -> None:
    """English messages (the ones tests assert) and a fast password hasher for personas."""
    settings.LANGUAGE_CODE = "en"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The metrics API's answer cache is dropped by on_commit callbacks, which a test's rolled
    # back transaction never runs: a test would read its own earlier answer. Off, except in
    # the tests of the cache (tests/metrics/test_api_answers.py).
    settings.METRICS_ANSWER_CACHE_SECONDS = 0
