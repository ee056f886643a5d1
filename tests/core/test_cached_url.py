"""`{% cached_url %}` (core/cached_url.py): `{% url %}`'s answers, reversed once per process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import NoReverseMatch, clear_url_caches, reverse, set_script_prefix
from django.utils import translation

from core import cached_url
from tests.factories import CustomerFactory


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cached_url._reversed.cache_clear()
    cached_url._static.cache_clear()
    yield
    cached_url._reversed.cache_clear()
    cached_url._static.cache_clear()
    set_script_prefix("/")


def render(source: str, **context: Any) -> str:
    return Template("{% load cached_url %}" + source).render(Context(context))


@pytest.fixture
def reversals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names the tag had to reverse (each a miss of the cache)."""
    made: list[str] = []

    def counting(view_name: str, **kwargs: Any) -> str:
        made.append(view_name)
        return reverse(view_name, **kwargs)

    monkeypatch.setattr(cached_url, "reverse", counting)
    return made


@pytest.mark.parametrize(
    "tag",
    [
        "'home' %}",
        "'customers:timeline' 42 %}",
        "'customers:timeline' customer_id=7 %}",
        "name pk %}",
        "'home' as h %}[{{ h }}]",
        "'no-such' as h %}[{{ h }}]",
    ],
)
def test_it_answers_what_url_answers(tag: str) -> None:
    context = {"name": "customers:timeline", "pk": 5}
    expected = Template("{% url " + tag).render(Context(context))
    assert render("{% cached_url " + tag, **context) == expected
    assert render("{% cached_url " + tag, **context) == expected  # again, from the cache


def test_a_name_that_does_not_reverse_raises_as_url_does() -> None:
    for _ in range(2):
        with pytest.raises(NoReverseMatch, match="no-such"):
            render("{% cached_url 'no-such' %}")


def test_the_same_link_is_reversed_once(reversals: list[str]) -> None:
    for pk in (1, 1, 2, 1):
        render("{% cached_url 'customers:timeline' pk %}", pk=pk)
    assert reversals == ["customers:timeline", "customers:timeline"]


def test_the_language_and_the_script_prefix_are_part_of_the_key(reversals: list[str]) -> None:
    assert render("{% cached_url 'home' %}") == "/"
    set_script_prefix("/crm/")
    assert render("{% cached_url 'home' %}") == "/crm/"
    with translation.override("ru"):
        render("{% cached_url 'home' %}")
    assert len(reversals) == 3


def test_new_url_patterns_are_reversed_again(reversals: list[str]) -> None:
    render("{% cached_url 'home' %}")
    clear_url_caches()  # as Django does when ROOT_URLCONF changes: a new resolver
    render("{% cached_url 'home' %}")
    assert reversals == ["home", "home"]


def test_a_card_opened_again_reverses_no_url(operator_client: Client, reversals: list[str]) -> None:
    first, second = CustomerFactory.create(), CustomerFactory.create()
    assert operator_client.get(f"/customers/{first.pk}/").status_code == 200
    on_first_card = len(reversals)
    reversals.clear()
    response = operator_client.get(f"/customers/{second.pk}/")
    assert response.status_code == 200
    assert f"/customers/{second.pk}/timeline/" in response.content.decode()
    # Another customer: only the links that carry their id; the top bar's are kept.
    assert 0 < len(reversals) < on_first_card
    reversals.clear()
    assert operator_client.get(f"/customers/{second.pk}/").status_code == 200
    assert reversals == []


@pytest.mark.parametrize("tag", ["'css/app.css' %}", "'css/app.css' as css %}[{{ css }}]"])
def test_static_answers_what_static_answers(tag: str) -> None:
    expected = Template("{% load static %}{% static " + tag).render(Context({}))
    assert render("{% cached_static " + tag) == expected
    assert render("{% cached_static " + tag) == expected


def test_a_static_path_is_asked_of_the_storage_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.templatetags.static import StaticNode

    asked: list[str] = []
    plain = StaticNode.handle_simple

    def counting(path: str) -> str:
        asked.append(path)
        return plain(path)

    monkeypatch.setattr(StaticNode, "handle_simple", counting)
    for _ in range(3):
        render("{% cached_static 'css/app.css' %}")
    assert asked == ["css/app.css"]


def test_other_storages_answer_again(settings: Any) -> None:
    assert render("{% cached_static 'css/app.css' %}") == "/static/css/app.css"
    settings.STATIC_URL = "https://cdn.example.com/assets/"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    assert render("{% cached_static 'css/app.css' %}") == (
        "https://cdn.example.com/assets/css/app.css"
    )
