"""API test helpers: a client that sends a persona's token, a fresh cache, a fake resolver.

Registered in tests/conftest.py `pytest_plugins`; API test modules and directories opt in to
`fresh_cache` (tests/api/conftest.py, tests/webhooks/conftest.py, `pytestmark` elsewhere)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import issue_token

ClientFor = Callable[[User], APIClient]


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """Throttle counters and the webhook subscription cache start empty in every test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for(db: None) -> ClientFor:
    """An API client authenticated with `user`'s token, as an integration would be."""

    def make(user: User) -> APIClient:
        _token, key = issue_token(user=user, name="tests")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def grant(user: User, *codenames: str, group_name: str = "Telephony") -> User:
    """Put `user` in a group holding exactly these `app_label.codename` permissions."""
    group, _created = Group.objects.get_or_create(name=group_name)
    for dotted in codenames:
        app_label, codename = dotted.split(".")
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    user.groups.add(group)
    return User.objects.get(pk=user.pk)  # a fresh instance: no stale permission cache


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A resolver for webhook hosts: names map to the addresses a test gives (mutable, so a
    test can make a name resolve elsewhere later); IP literals resolve to themselves."""
    import socket

    from webhooks import targets

    names: dict[str, list[str]] = {"example.com": ["93.184.215.14"]}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:
        if host in names:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port),
                )
                for address in names[host]
            ]
        return real(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)

    monkeypatch.setattr(targets.socket, "getaddrinfo", getaddrinfo)
    return names
