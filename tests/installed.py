"""Programs the tests drive (Chromium, PostgreSQL's server binaries, redis-server) that a
developer's machine may lack.

Where one is missing the tests that need it are skipped, so `make test` still runs on a bare
machine; CI installs every one of them and sets CRM_TESTS_REQUIRE_PROGRAMS=1, so that there a
missing program fails the tests instead of letting them pass by not running.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_program(reason: str) -> NoReturn:
    """Skip the test for want of a program, or fail it where CI says every program is there."""
    if os.environ.get("CRM_TESTS_REQUIRE_PROGRAMS") == "1":
        pytest.fail(f"{reason} (CI installs it: CRM_TESTS_REQUIRE_PROGRAMS=1)")
    pytest.skip(reason)
