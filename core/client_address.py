"""The address of the client behind a known number of trusted reverse proxies.

Behind nginx or a load balancer every request's socket address (`REMOTE_ADDR`) is the proxy's,
so a limit "per address" would put every user in one bucket. Each trusted proxy appends the
address it received the request from to `X-Forwarded-For`; with N trusted proxies the client
is the N-th entry from the right. Entries further left were written by the client itself and
are never trusted. `settings.CRM_TRUSTED_PROXY_COUNT` is N (0: no proxy, the socket address).

The survey page's rate limit and the login lockout (django-axes) read the address here.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The client's IP address as the nearest trusted proxy saw it ("" if unknown)."""
    remote = request.META.get("REMOTE_ADDR") or ""
    count = settings.CRM_TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [
            entry.strip()
            for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if entry.strip()
        ]
        # Fewer entries than proxies: the header did not come through them all; the socket
        # address (a proxy's) is the safe answer, never an entry the client could have written.
        if len(forwarded) >= count:
            address = _valid(forwarded[-count])
            if address is not None:
                return address
    return _valid(remote) or remote
