"""One caller-ID match: the API's lookup, the call screen-pop and the search box find the same
customers for a number in any spelling (phone or phone-based messenger) or an email in any
case, because all of them read `customers.selectors.caller_contacts`."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from customers.models import ContactPoint
from customers.search import search_customers
from customers.selectors import caller_contacts
from tests.api_fixtures import ClientFor
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NUMBER = "+79123456789"
SPELLINGS = ["+7 912 345-67-89", "8 (912) 345 67 89", "79123456789"]


@pytest.fixture
def household() -> tuple[set[int], set[int]]:
    """A husband with the number as a phone, a wife with it as a messenger handle, and a
    customer with an email; the ids reached by the number and by the email."""
    husband, wife, writer = CustomerFactory.create_batch(3)
    ContactPoint.objects.create(customer=husband, kind="phone", value="8 912 345 67 89")
    ContactPoint.objects.create(
        customer=wife, kind="messenger", messenger="whatsapp", value="+7 912 345 67 89"
    )
    ContactPoint.objects.create(customer=writer, kind="email", value="Anna@Example.com")
    return {husband.pk, wife.pk}, {writer.pk}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_lookup_the_screen_pop_and_search_agree_on_a_number(
    spelling: str,
    household: tuple[set[int], set[int]],
    client_for: ClientFor,
    operator: User,
) -> None:
    by_number, _by_email = household
    browser = Client()
    browser.force_login(operator)

    selected = set(caller_contacts(phone=spelling).values_list("customer_id", flat=True))
    looked_up = client_for(operator).get("/api/v1/customers/lookup/", {"phone": spelling})
    popped = browser.get("/call/", {"phone": spelling})
    searched = {hit.customer.pk for hit in search_customers(spelling, limit=10).hits}

    assert selected == by_number
    assert {row["id"] for row in looked_up.data} == by_number
    assert popped.status_code == 200  # two candidates: the page lists them
    assert {c.pk for c in popped.context["candidates"]} == by_number
    assert by_number <= searched


def test_the_lookup_and_the_screen_pop_agree_on_an_email(
    household: tuple[set[int], set[int]], client_for: ClientFor, operator: User
) -> None:
    _by_number, by_email = household
    browser = Client()
    browser.force_login(operator)

    looked_up = client_for(operator).get("/api/v1/customers/lookup/", {"email": "ANNA@example.COM"})
    popped = browser.get("/call/", {"email": "anna@EXAMPLE.com"})

    assert set(caller_contacts(email="aNNa@example.com").values_list("customer_id", flat=True)) == (
        by_email
    )
    assert {row["id"] for row in looked_up.data} == by_email
    assert popped.status_code == 302 and popped["Location"] == f"/customers/{min(by_email)}/"
