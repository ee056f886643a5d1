"""Shared fixtures: personas, a frozen clock helper, and the database marker rules."""

from __future__ import annotations

import pytest
from django.db import connection

pytest_plugins = ["tests.personas"]


@pytest.fixture(autouse=True)
def _skip_postgres_only(request: pytest.FixtureRequest) -> None:
    """Tests marked `postgres` run only when the suite runs on PostgreSQL (as CI does)."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.fixture(autouse=True)
def _english(settings: pytest.FixtureRequest) -> None:
    """Messages asserted in tests are the English ones."""
    settings.LANGUAGE_CODE = "en"
