"""API tokens: hashed at rest, several per user, named, expiring, revocable; old ones migrated."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, User
from accounts.roles import OPERATORS, TELEPHONY
from accounts.tokens import authenticate_key, issue_token, revoke_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _get(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/customers/").status_code


@pytest.fixture
def shop(db: None) -> User:
    return UserFactory.create(username="shop", groups=[OPERATORS], is_staff=False)


def test_only_the_hash_of_the_key_is_stored(shop: User) -> None:
    _token, key = issue_token(user=shop, name="orders")

    assert key.startswith("crm_") and len(key) > 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert key not in stored
    assert hashlib.sha256(key.encode()).hexdigest() in stored
    assert _get(key) == 200


def test_a_user_has_several_named_tokens_each_revoked_on_its_own(shop: User) -> None:
    orders, orders_key = issue_token(user=shop, name="orders")
    _carts, carts_key = issue_token(user=shop, name="carts")

    revoke_token(token=orders)

    assert _get(orders_key) == 401
    assert _get(carts_key) == 200


def test_an_expired_token_is_refused(shop: User) -> None:
    token, key = issue_token(user=shop, expires_at=timezone.now() + dt.timedelta(minutes=1))
    assert _get(key) == 200  # now cached, with its expiry
    assert token.expires_at is not None

    assert authenticate_key(key, now=token.expires_at - dt.timedelta(seconds=1)) is not None
    assert authenticate_key(key, now=token.expires_at + dt.timedelta(seconds=1)) is None


def test_a_token_whose_expiry_is_brought_forward_is_refused(shop: User) -> None:
    token, key = issue_token(user=shop, expires_at=timezone.now() + dt.timedelta(days=30))
    assert _get(key) == 200

    token.expires_at = timezone.now() - dt.timedelta(seconds=1)
    token.save()  # what the admin's change form does

    assert _get(key) == 401


def test_a_deactivated_user_token_is_refused(shop: User) -> None:
    _token, key = issue_token(user=shop)
    User.objects.filter(pk=shop.pk).update(is_active=False)

    assert _get(key) == 401


def test_authenticating_is_one_lookup_by_the_hash_then_none(shop: User) -> None:
    token, key = issue_token(user=shop)

    with CaptureQueriesContext(connection) as queries:
        found = authenticate_key(key)

    assert found is not None and found.pk == token.pk
    assert "digest" in queries[0]["sql"]
    # The rest read the user's permissions once, for the checks of later requests.
    assert all("permission" in query["sql"] for query in queries.captured_queries[1:])

    with CaptureQueriesContext(connection) as queries:
        again = authenticate_key(key)

    assert again is not None and again.pk == token.pk and again.user.pk == shop.pk
    assert len(queries) == 0


def test_the_admin_issues_a_token_showing_the_key_once_and_revokes_it(shop: User) -> None:
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)

    response = client.post(
        "/admin/accounts/apitoken/add/",
        {"user": shop.pk, "name": "bi", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )

    assert response.status_code == 200
    token = ApiToken.objects.get(user=shop, name="bi")
    (message,) = [str(m) for m in response.context["messages"] if "shown only now" in str(m)]
    key = message.split()[-1]
    assert hashlib.sha256(key.encode()).hexdigest() == token.digest
    assert _get(key) == 200
    page = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").text
    assert key not in page and token.digest not in page

    client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )

    assert _get(key) == 401


# serialized_rollback: the flush after it must not re-create the roles (post_migrate), or the
# browser tests, which restore the serialized roles, would find them twice.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_old_plain_tokens_are_hashed_by_the_migration_and_keep_working() -> None:
    from django.db.migrations.executor import MigrationExecutor

    before = [("accounts", "0002_roles"), ("authtoken", "0004_alter_tokenproxy_options")]
    after = [("accounts", "0003_h8_api_tokens")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    user = old_apps.get_model("accounts", "User").objects.create(username="telephony")
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    old_apps.get_model("authtoken", "Token").objects.create(key=old_key, user=user)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0  # no plain key left
    token = ApiToken.objects.get(user__username="telephony")
    assert token.digest == hashlib.sha256(old_key.encode()).hexdigest()
    from accounts.tokens import authenticate_key

    found = authenticate_key(old_key)
    assert found is not None and found.pk == token.pk


@pytest.mark.django_db
def test_a_tokens_permissions_are_read_in_one_query_and_are_the_backends(
    django_assert_num_queries: Any,
) -> None:
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import Group, Permission

    from accounts.auth_cache import load_permissions

    user = UserFactory.create(groups=[TELEPHONY])
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    group_permissions = Group.objects.get(name=TELEPHONY).permissions.all()
    with django_assert_num_queries(1):
        load_permissions(user)
    loaded: set[str] = getattr(user, "_perm_cache")  # noqa: B009 - ModelBackend's own name
    fresh = type(user).objects.get(pk=user.pk)
    assert loaded == ModelBackend().get_all_permissions(fresh)
    assert "customers.view_customer" in loaded
    assert {f"{p.content_type.app_label}.{p.codename}" for p in group_permissions} <= loaded
