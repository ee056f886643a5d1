"""What a server process does once, as it starts, so that its first request does not.

Django imports the URLconf, and with it every view module of the site, on the first request a
process serves. Here that took about a second (the metrics API's modules bring NumPy and
SciPy), and under load every request that reached a new worker queued behind it: the load
benchmark's first second showed a 2 s p99 on the health check (issue 18). `crm.asgi` and
`crm.wsgi` call `load_site()` when the worker imports the application, before it accepts a
connection.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings


def load_site() -> None:
    """Import the URLconf (and so every view module it includes) now."""
    import_module(settings.ROOT_URLCONF)
