"""API test helpers: a client that sends a persona's token."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User

ClientFor = Callable[[User], APIClient]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttle counters and the webhook subscription cache start empty in every test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for(db: None) -> ClientFor:
    """An API client authenticated with `user`'s token, as an integration would be."""

    def make(user: User) -> APIClient:
        token, _created = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
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
