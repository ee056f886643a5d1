"""Brute force: after N wrong passwords the user name and the address are locked out.

The login page, the admin's login and the API are tried as an attacker would: the right
password after N failures is refused with a clear message; another user from another address
still signs in; an admin unlocks from the admin; behind the proxy the address is the client's.
"""

from __future__ import annotations

import base64

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-pass-42!"
LIMIT = 3


@pytest.fixture(autouse=True)
def _limit(settings) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT


def _user(username: str, **extra: object) -> User:
    user = UserFactory.create(username=username, **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client: Client, username: str, password: str, url: str | None = None):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, follow=False
    )


def _fail(client: Client, username: str, times: int = LIMIT, url: str | None = None) -> None:
    """Wrong passwords: the form again with its error, the one that reaches the limit locks."""
    for _ in range(times):
        assert _login(client, username, "wrong", url).status_code in (200, 429)


def test_the_right_password_is_refused_after_n_failures_with_a_message() -> None:
    _user("olga")
    attacker = Client(REMOTE_ADDR="203.0.113.66")

    _fail(attacker, "olga")
    response = _login(attacker, "olga", PASSWORD)

    assert response.status_code == 429
    assert "Too many failed login attempts" in response.text
    assert "_auth_user_id" not in attacker.session
    # The user name is locked wherever the next try comes from.
    assert _login(Client(REMOTE_ADDR="198.51.100.9"), "olga", PASSWORD).status_code == 429


def test_the_message_speaks_russian() -> None:
    _user("olga")
    attacker = Client(REMOTE_ADDR="203.0.113.66", HTTP_ACCEPT_LANGUAGE="ru")

    _fail(attacker, "olga")

    assert "Слишком много неудачных попыток входа" in _login(attacker, "olga", PASSWORD).text


def test_fewer_failures_than_the_limit_still_let_the_user_in() -> None:
    _user("olga")
    client = Client(REMOTE_ADDR="203.0.113.66")

    for _ in range(LIMIT - 1):
        assert _login(client, "olga", "wrong").status_code == 200

    assert _login(client, "olga", PASSWORD).status_code == 302


def test_another_user_from_another_address_is_unaffected() -> None:
    _user("olga")
    _user("ivan")
    _fail(Client(REMOTE_ADDR="203.0.113.66"), "olga")

    response = _login(Client(REMOTE_ADDR="198.51.100.9"), "ivan", PASSWORD)

    assert response.status_code == 302


def test_the_address_is_locked_for_every_user_name() -> None:
    """Spraying one password over many user names from one address is stopped too."""
    _user("ivan")
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for name in ("anna", "boris", "clara"):
        _fail(attacker, name, times=1)

    assert _login(attacker, "ivan", PASSWORD).status_code == 429


def test_behind_the_proxy_the_client_address_counts_not_the_proxy(settings) -> None:
    settings.CRM_TRUSTED_PROXY_COUNT = 1
    _user("ivan")
    attacker = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.66")
    for name in ("anna", "boris", "clara"):
        _fail(attacker, name, times=1)

    colleague = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert _login(colleague, "ivan", PASSWORD).status_code == 302
    assert AccessAttempt.objects.filter(ip_address="203.0.113.66").exists()


def test_the_admin_login_is_locked_out_too() -> None:
    _user("root", is_staff=True, is_superuser=True)
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    admin_login = reverse("admin:login")

    _fail(attacker, "root", url=admin_login)
    response = _login(attacker, "root", PASSWORD, url=admin_login)

    assert response.status_code == 429
    assert "_auth_user_id" not in attacker.session


def test_an_admin_unlocks_a_user_in_the_admin() -> None:
    _user("olga")
    admin = _user("root", is_staff=True, is_superuser=True)
    _fail(Client(REMOTE_ADDR="203.0.113.66"), "olga")
    assert _login(Client(REMOTE_ADDR="198.51.100.9"), "olga", PASSWORD).status_code == 429

    staff = Client()
    staff.force_login(admin)
    listing = staff.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "olga" in listing.text
    attempts = AccessAttempt.objects.filter(username="olga")
    response = staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [a.pk for a in attempts],
            "post": "yes",
        },
    )
    assert response.status_code == 302

    assert not AccessAttempt.objects.filter(username="olga").exists()
    assert _login(Client(REMOTE_ADDR="198.51.100.9"), "olga", PASSWORD).status_code == 302


def test_the_api_takes_no_password_so_it_is_no_way_around_the_lockout() -> None:
    """The API authenticates by token or by the (locked) login's session: HTTP Basic with the
    right password is not accepted at all, before or after a lockout."""
    _user("olga", groups=["Operators"])
    credentials = base64.b64encode(f"olga:{PASSWORD}".encode()).decode()
    client = Client(REMOTE_ADDR="203.0.113.66", HTTP_AUTHORIZATION=f"Basic {credentials}")

    assert client.get("/api/v1/customers/").status_code == 401
    _fail(client, "olga")
    assert client.get("/api/v1/customers/").status_code == 401
    assert _login(client, "olga", PASSWORD).status_code == 429
