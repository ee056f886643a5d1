"""The client's address behind N trusted proxies: the N-th X-Forwarded-For entry from the right."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from core.client_address import client_address


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.7", "", "203.0.113.7"),  # no proxy: the socket address
        (0, "203.0.113.7", "198.51.100.1", "203.0.113.7"),  # a client's header is ignored
        (1, "10.0.0.2", "203.0.113.7", "203.0.113.7"),  # nginx appended the client
        (1, "10.0.0.2", "1.2.3.4, 203.0.113.7", "203.0.113.7"),  # forged entry left of it
        (2, "10.0.0.3", "1.2.3.4, 203.0.113.7, 10.0.0.2", "203.0.113.7"),  # CDN + nginx
        (1, "10.0.0.2", "", "10.0.0.2"),  # header missing: the proxy, never a guess
        (2, "10.0.0.3", "203.0.113.7", "10.0.0.3"),  # fewer entries than proxies
        (1, "10.0.0.2", "not-an-address", "10.0.0.2"),
        (1, "10.0.0.2", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(settings, proxies: int, remote: str, forwarded: str, expected: str) -> None:
    settings.CRM_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == expected
