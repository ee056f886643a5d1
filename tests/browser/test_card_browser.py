"""The operator's card in a real browser: screen-pop, as-you-type search, logging a contact."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from customers.models import Customer, Interaction
from tests.factories import CustomerFactory, PhoneFactory, UserFactory

PASSWORD = "correct horse battery"

# The live server needs committed data; serialized_rollback puts the migrations' data (roles)
# back afterwards, for the tests that run next.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def card_operator() -> User:
    user = UserFactory.create(username="browser.olga")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["customers", "tickets", "surveys"],
            codename__startswith="view_",
        ),
        *Permission.objects.filter(codename__in=["add_interaction", "add_offer"]),
    )
    return user


@pytest.fixture
def anna() -> Customer:
    customer = CustomerFactory.create(full_name="Anna Ivanova")
    PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    return customer


def log_in(page: Any, live_server: Any, user: User) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_a_call_opens_the_card_and_a_logged_contact_appears_without_reload(
    browser_page: Any, live_server: Any, card_operator: User, anna: Customer
) -> None:
    page = browser_page
    log_in(page, live_server, card_operator)

    page.goto(f"{live_server.url}/call/?{urlencode({'phone': '8 (912) 345-67-89'})}")

    page.wait_for_url(f"{live_server.url}/customers/{anna.pk}/")
    assert page.inner_text("#section-identity h1") == "Anna Ivanova"
    # Survives only as long as the page is not reloaded.
    page.evaluate("window.cardMarker = 'same page'")

    page.click("[data-action=log_contact]")
    page.wait_for_selector("#card-action textarea[name=summary]")
    page.select_option("#card-action select[name=channel]", "phone")
    page.fill("#card-action textarea[name=summary]", "Asked when the warranty ends")
    page.click("#card-action button[type=submit]")

    page.wait_for_selector("#section-timeline >> text=Asked when the warranty ends")
    assert "Contact logged." in page.inner_text("#card-action")
    assert page.evaluate("window.cardMarker") == "same page"
    contact = Interaction.objects.get(customer=anna)
    assert contact.personalized and contact.operator == card_operator

    page.click("#card-action [data-close-action]")
    assert page.inner_html("#card-action").strip() == ""
    assert page.evaluate("window.cardMarker") == "same page"


def test_a_contact_without_summary_shows_the_error_in_place(
    browser_page: Any, live_server: Any, card_operator: User, anna: Customer
) -> None:
    page = browser_page
    log_in(page, live_server, card_operator)
    page.goto(f"{live_server.url}/customers/{anna.pk}/")
    page.evaluate("window.cardMarker = 'same page'")

    page.click("[data-action=log_contact]")
    page.wait_for_selector("#card-action textarea[name=summary]")
    page.click("#card-action button[type=submit]")

    page.wait_for_selector("#card-action .errors")
    assert "Say in a few words" in page.inner_text("#card-action")
    assert page.evaluate("window.cardMarker") == "same page"
    assert not Interaction.objects.exists()


def test_the_top_bar_finds_a_customer_as_the_operator_types(
    browser_page: Any, live_server: Any, card_operator: User, anna: Customer
) -> None:
    page = browser_page
    log_in(page, live_server, card_operator)

    page.type(".topsearch input[name=q]", "ivano")
    page.wait_for_selector("#topsearch-results >> text=Anna Ivanova")
    page.keyboard.press("Escape")
    assert page.inner_html("#topsearch-results") == ""
    # Escape also empties a search input (the browser's own behaviour): type again.
    page.type(".topsearch input[name=q]", "ivano")
    page.wait_for_selector("#topsearch-results >> text=Anna Ivanova")
    page.click("#topsearch-results >> text=Anna Ivanova")

    page.wait_for_url(f"{live_server.url}/customers/{anna.pk}/")
