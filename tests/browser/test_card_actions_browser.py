"""The card in Chromium: focus follows the action forms, Escape closes them, long notes wrap."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from customers.models import Customer
from customers.services import add_note
from tests.factories import CustomerFactory, PhoneFactory, UserFactory

PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for_focus(page: Any, name: str) -> None:
    """Wait until the field called `name` has the focus. (page.wait_for_function would compile
    its predicate with eval, which the Content Security Policy forbids; page.evaluate does not.)"""
    for _ in range(50):
        if page.evaluate("document.activeElement && document.activeElement.name") == name:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the field {name!r} never took the focus")


@pytest.fixture
def card_operator() -> User:
    user = UserFactory.create(username="browser.focus")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["customers", "tickets", "surveys"],
            codename__startswith="view_",
        ),
        *Permission.objects.filter(codename__in=["add_interaction", "add_contactpoint"]),
    )
    return user


@pytest.fixture
def anna() -> Customer:
    customer = CustomerFactory.create(full_name="Anna Ivanova")
    PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    return customer


def open_card(page: Any, live_server: Any, user: User, customer: Customer) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")


def focused_name(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.name || ''"))


def test_an_action_form_takes_the_focus_and_escape_gives_it_back(
    browser_page: Any, live_server: Any, card_operator: User, anna: Customer
) -> None:
    page = browser_page
    open_card(page, live_server, card_operator, anna)

    page.click("[data-action=add_note]")
    page.wait_for_selector("#card-action textarea[name=text]")
    wait_for_focus(page, "text")
    # The operator types at once, without reaching for the mouse.
    page.keyboard.type("Prefers calls after six")
    assert page.input_value("#card-action textarea[name=text]") == "Prefers calls after six"

    page.keyboard.press("Escape")

    assert page.inner_html("#card-action").strip() == ""
    assert page.evaluate("document.activeElement.dataset.action") == "add_note"


def test_the_first_error_takes_the_focus(
    browser_page: Any, live_server: Any, card_operator: User, anna: Customer
) -> None:
    page = browser_page
    open_card(page, live_server, card_operator, anna)

    page.click("[data-action=log_contact]")
    page.wait_for_selector("#card-action textarea[name=summary]")
    page.click("#card-action button[type=submit]")
    page.wait_for_selector("#card-action .has-errors")

    wait_for_focus(page, "summary")
    assert focused_name(page) == "summary"


def test_a_bad_contact_puts_the_focus_on_the_value(
    browser_page: Any, live_server: Any, card_operator: User, anna: Customer
) -> None:
    page = browser_page
    open_card(page, live_server, card_operator, anna)

    page.click("#section-contacts a[hx-get$='/contacts/new/']")
    page.wait_for_selector("#card-action input[name=value]")
    wait_for_focus(page, "kind")
    page.fill("#card-action input[name=value]", "not a phone")
    page.focus("#card-action button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#card-action .has-errors")

    wait_for_focus(page, "value")
    page.keyboard.press("Escape")
    assert page.inner_html("#card-action").strip() == ""


def test_a_long_unbroken_note_keeps_the_card_in_the_window_and_reads_in_full(
    browser_page: Any, live_server: Any, card_operator: User, anna: Customer
) -> None:
    text = "x" * 3990 + "THE-END"
    add_note(customer=anna, actor=card_operator, text=text)
    page = browser_page
    open_card(page, live_server, card_operator, anna)
    page.wait_for_selector("#section-timeline details.full-text")

    viewport = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport
    assert "THE-END" not in page.inner_text("#section-timeline")

    page.click("#section-timeline details.full-text summary")

    assert text in page.inner_text("#section-timeline").replace("\n", "")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport
