"""Error pages (400, 403, 404, 500, CSRF failure) use the product's layout, speak the user's
language and lead back home, in production mode (DEBUG off)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.crm.error_urls")]

LAYOUT = '<header class="topbar">'
HOME_LINK = '<a class="btn" href="/">'


def _client(language: str, user: User | None = None) -> Client:
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    client.cookies["django_language"] = language
    if user is not None:
        client.force_login(user)
    return client


def _assert_layout(body: str, *, language: str) -> None:
    assert LAYOUT in body
    assert f'<html lang="{language}">' in body
    assert HOME_LINK in body


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "Access denied"), ("ru", "Доступ запрещён")],
)
def test_an_operator_on_the_dashboard_gets_the_403_page(
    operator: User, language: str, text: str
) -> None:
    response = _client(language, operator).get("/metrics/")

    assert response.status_code == 403
    body = response.text
    _assert_layout(body, language=language)
    assert text in body
    assert f'<span class="who">{operator}</span>' in body  # still signed in, with the menu


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "Page not found"), ("ru", "Страница не найдена")],
)
def test_an_unknown_address_gets_the_404_page(operator: User, language: str, text: str) -> None:
    response = _client(language, operator).get("/no-such-page/")

    assert response.status_code == 404
    _assert_layout(response.text, language=language)
    assert text in response.text


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "Something went wrong"), ("ru", "Что-то пошло не так")],
)
def test_a_failing_view_gets_the_500_page(operator: User, language: str, text: str) -> None:
    response = _client(language, operator).get("/test-fails/")

    assert response.status_code == 500
    _assert_layout(response.text, language=language)
    assert text in response.text
    assert "a bug, on purpose" not in response.text


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "The form has expired"), ("ru", "Форма устарела")],
)
def test_a_post_without_its_csrf_token_gets_the_csrf_page(language: str, text: str) -> None:
    response = _client(language).post(
        "/accounts/login/", {"username": "someone", "password": "secret"}
    )

    assert response.status_code == 403
    _assert_layout(response.text, language=language)
    assert text in response.text


@override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"])
def test_a_bad_request_gets_the_400_page() -> None:
    response = _client("ru").get("/", HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    _assert_layout(response.text, language="ru")
    assert "Неверный запрос" in response.text
