"""A warm process authenticates a token from its caches, and every revocation reaches them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import auth_cache
from accounts.models import ApiToken, User
from accounts.roles import OPERATORS
from accounts.tokens import issue_token, revoke_tokens
from tests.factories import CustomerFactory, PhoneFactory, UserFactory

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/customers/lookup/"


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    cache.clear()
    auth_cache.clear_local()
    yield
    cache.clear()
    auth_cache.clear_local()


@pytest.fixture
def shop(db: None) -> User:
    return UserFactory.create(username="shop", groups=[OPERATORS], is_staff=False)


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _lookup(key: str) -> int:
    return _client(key).get(LOOKUP, {"phone": "+79123456789"}).status_code


def test_a_warm_lookup_runs_its_one_statement_and_nothing_else(shop: User) -> None:
    PhoneFactory.create(customer=CustomerFactory.create(), value="+7 912 345-67-89")
    _token, key = issue_token(user=shop)
    assert _lookup(key) == 200

    with CaptureQueriesContext(connection) as queries:
        response = _client(key).get(LOOKUP, {"phone": "8 (912) 345-67-89"})

    assert response.status_code == 200 and len(response.json()) == 1
    assert [q["sql"] for q in queries.captured_queries if "apitoken" in q["sql"]] == []
    assert len(queries.captured_queries) == 1


def test_another_process_finds_the_token_in_the_shared_cache(shop: User) -> None:
    _token, key = issue_token(user=shop)
    assert _lookup(key) == 200
    auth_cache.clear_local()  # a second gunicorn worker: its own memory is empty

    with CaptureQueriesContext(connection) as queries:
        assert _lookup(key) == 200

    assert len(queries.captured_queries) == 1


def test_a_revoked_token_is_refused_at_once(shop: User) -> None:
    _token, key = issue_token(user=shop)
    assert _lookup(key) == 200

    revoke_tokens(user=shop)

    assert _lookup(key) == 401
    auth_cache.clear_local()
    assert _lookup(key) == 401


def test_a_token_revoked_in_the_admin_is_refused_at_once(shop: User) -> None:
    token, key = issue_token(user=shop)
    assert _lookup(key) == 200
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(root)

    admin.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )

    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert _lookup(key) == 401


def test_a_deleted_token_is_refused_at_once(shop: User) -> None:
    token, key = issue_token(user=shop)
    assert _lookup(key) == 200

    token.delete()

    assert _lookup(key) == 401


def test_a_deactivated_user_is_refused_at_once(shop: User) -> None:
    _token, key = issue_token(user=shop)
    assert _lookup(key) == 200

    shop.is_active = False
    shop.save()

    assert _lookup(key) == 401


def test_a_user_taken_out_of_their_role_loses_its_permissions_at_once(shop: User) -> None:
    _token, key = issue_token(user=shop)
    assert _lookup(key) == 200

    shop.groups.remove(Group.objects.get(name=OPERATORS))

    assert _lookup(key) == 403


def test_a_role_that_loses_a_permission_loses_it_for_cached_tokens(shop: User) -> None:
    _token, key = issue_token(user=shop)
    assert _lookup(key) == 200

    operators = Group.objects.get(name=OPERATORS)
    operators.permissions.remove(*operators.permissions.filter(codename="view_customer"))

    assert _lookup(key) == 403


def test_a_failing_cache_falls_back_to_the_database(
    shop: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    _token, key = issue_token(user=shop)

    class DownCache:
        """The token cache's Redis refusing every call (the throttle's cache is another
        matter, issue 18 item 6)."""

        def __getattr__(self, name: str) -> Any:
            def refuse(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionError("cache down")

            return refuse

    monkeypatch.setattr(auth_cache, "cache", DownCache())
    auth_cache.clear_local()

    with CaptureQueriesContext(connection) as queries:
        assert _lookup(key) == 200
    assert any("apitoken" in q["sql"] for q in queries.captured_queries)

    revoke_tokens(user=shop)  # forgets this process's copy even with the cache down
    assert _lookup(key) == 401


# --- signed-in sessions ------------------------------------------------------------------------


def _card(client: Client, customer_id: int) -> int:
    return client.get(f"/customers/{customer_id}/").status_code


def test_a_warm_card_page_reads_no_session_user_or_permission_row(operator: User) -> None:
    customer = CustomerFactory.create()
    client = Client()
    client.force_login(operator)
    assert _card(client, customer.pk) == 200

    with CaptureQueriesContext(connection) as queries:
        assert _card(client, customer.pk) == 200

    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert "django_session" not in read
    assert 'FROM "accounts_user"' not in read  # sections join users (operators) by name only
    assert "auth_permission" not in read


def test_a_signed_in_user_deactivated_is_signed_out_at_once(operator: User) -> None:
    customer = CustomerFactory.create()
    client = Client()
    client.force_login(operator)
    assert _card(client, customer.pk) == 200

    operator.is_active = False
    operator.save()

    assert _card(client, customer.pk) == 302  # to the login page


def test_a_signed_in_user_taken_out_of_their_role_is_refused_at_once(operator: User) -> None:
    customer = CustomerFactory.create()
    client = Client()
    client.force_login(operator)
    assert _card(client, customer.pk) == 200

    operator.groups.clear()

    assert _card(client, customer.pk) == 403


def test_each_request_gets_its_own_token_and_user_sharing_only_the_permissions(
    shop: User,
) -> None:
    """What the cache keeps is never handed out: a request's changes to its token or user
    (or a relation it caches) stay its own, as with `copy.copy()`."""
    from django.utils import timezone

    token, _key = issue_token(user=shop, name="pos")
    auth_cache.keep_token(ApiToken.objects.select_related("user").get(pk=token.pk))
    first = auth_cache.cached_token(token.digest, now=timezone.now())
    second = auth_cache.cached_token(token.digest, now=timezone.now())
    assert first is not None and second is not None

    first.name = "changed"
    first.user.first_name = "Changed"
    first.user._state.fields_cache["marker"] = object()

    assert first.user is not second.user and second.name == "pos"
    assert second.user.first_name == shop.first_name
    assert "marker" not in second.user._state.fields_cache
    assert second.user.has_perm("customers.view_customer")
    assert first.user._perm_cache is second.user._perm_cache  # type: ignore[attr-defined]
    assert second.user_id == shop.pk and second.user.pk == shop.pk
    assert second._state.adding is False and second._state.db == "default"
