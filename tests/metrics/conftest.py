"""The metrics API keeps answers in the cache (metrics.answer_cache); the test database is
rolled back after each test without a commit that would drop them, so each test starts with
an empty cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
