"""Signing in and out, and the operator's own language and time zone on every page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from core.middleware import OperatorPreferencesMiddleware

pytestmark = pytest.mark.django_db


def test_the_login_page_renders_a_form(client: Client) -> None:
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_an_operator_signs_in_and_lands_on_the_home_page(client: Client, operator: User) -> None:
    operator.set_password("s3cret-pass!")
    operator.save()

    response = client.post(
        reverse("login"), {"username": operator.username, "password": "s3cret-pass!"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_a_wrong_password_shows_the_form_again_with_an_error(
    client: Client, operator: User
) -> None:
    response = client.post(reverse("login"), {"username": operator.username, "password": "no"})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_logging_out_takes_a_post_and_returns_to_the_login_page(
    client: Client, operator: User
) -> None:
    client.force_login(operator)

    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session


def _seen_by_view(request: HttpRequest) -> tuple[str, str]:
    """Run the middleware around a view that records the active zone and language."""
    seen: dict[str, str] = {}

    def view(req: HttpRequest) -> HttpResponse:
        seen["zone"] = timezone.get_current_timezone_name()
        seen["language"] = translation.get_language()
        return HttpResponse()

    OperatorPreferencesMiddleware(view)(request)
    return seen["zone"], seen["language"]


def test_an_operator_sees_times_in_their_own_zone_and_language(operator: User) -> None:
    operator.time_zone = "Asia/Yekaterinburg"
    operator.language = "ru"
    request = RequestFactory().get("/")
    request.user = operator

    with translation.override("en"):
        assert _seen_by_view(request) == ("Asia/Yekaterinburg", "ru")
    # The zone does not leak into the next request handled by the same thread.
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_a_language_chosen_in_the_switcher_wins_over_the_profile(operator: User) -> None:
    operator.language = "ru"
    request = RequestFactory().get("/")
    request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = "en"
    request.user = operator

    with translation.override("en"):
        assert _seen_by_view(request)[1] == "en"


def test_without_preferences_the_site_defaults_apply(operator: User) -> None:
    request = RequestFactory().get("/")
    request.user = operator

    with translation.override("en"):
        assert _seen_by_view(request) == (settings.TIME_ZONE, "en")
