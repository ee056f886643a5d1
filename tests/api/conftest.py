"""Every API test here starts with an empty cache (throttle counters, webhook subscriptions)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache: None) -> None:
    """The helpers' `fresh_cache` for every test of this directory."""
