"""A server process imports the whole site as it loads the application, not on its first
request (crm/startup.py): a worker's first request waited about a second for the URLconf."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Modules only the URLconf imports: the API's, the metrics API's (NumPy, SciPy) and a page's.
SITE_MODULES = ("crm.urls", "metrics.api_urls", "customers.views")


@pytest.mark.parametrize("entry_point", ["crm.asgi", "crm.wsgi"])
def test_loading_the_application_imports_the_urlconf_and_its_views(entry_point: str) -> None:
    probe = (
        f"import sys, {entry_point}; "
        f"print(','.join(m for m in {SITE_MODULES!r} if m not in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"not imported at start: {result.stdout.strip()}"
