"""Search box, screen-pop and the new-customer page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import ContactPoint, Customer
from tests.factories import CustomerFactory, EmailFactory, PhoneFactory, TicketFactory

pytestmark = pytest.mark.django_db

SEARCH = reverse("customers:search")
CALL = reverse("call")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def operator_client(client: Client, operator: User) -> Client:
    client.force_login(operator)
    return client


def names(response: Any) -> list[str]:
    return [hit.customer.full_name for hit in response.context["result"].hits]


# --- search ----------------------------------------------------------------------------------


def test_a_name_is_found_by_any_part_and_case(operator_client: Client) -> None:
    CustomerFactory.create(full_name="Anna Ivanova")
    CustomerFactory.create(full_name="Boris Petrov")

    assert names(operator_client.get(SEARCH, {"q": "ivan"})) == ["Anna Ivanova"]
    assert names(operator_client.get(SEARCH, {"q": "anna IVA"})) == ["Anna Ivanova"]


def test_a_cyrillic_name_is_found_whatever_the_case_typed(operator_client: Client) -> None:
    CustomerFactory.create(full_name="Анна Иванова")

    assert names(operator_client.get(SEARCH, {"q": "иванова"})) == ["Анна Иванова"]


def test_a_phone_in_any_spelling_finds_its_customer(operator_client: Client) -> None:
    PhoneFactory.create(customer=CustomerFactory.create(full_name="Anna"), value="+7 912 345-67-89")

    for spelling in ("8 (912) 345-67-89", "+79123456789", "8-912-345-67-89"):
        response = operator_client.get(SEARCH, {"q": spelling})
        assert names(response) == ["Anna"], spelling
        assert response.context["result"].hits[0].matched == "phone"


def test_an_email_external_id_and_ticket_number_find_their_customer(
    operator_client: Client,
) -> None:
    anna = CustomerFactory.create(full_name="Anna", external_id="SHOP-777")
    EmailFactory.create(customer=anna, value="Anna@Example.com")
    ticket = TicketFactory.create(customer=anna)

    assert names(operator_client.get(SEARCH, {"q": "anna@example.COM"})) == ["Anna"]
    assert names(operator_client.get(SEARCH, {"q": "SHOP-777"})) == ["Anna"]
    response = operator_client.get(SEARCH, {"q": f"#{ticket.pk}"})
    assert names(response) == ["Anna"]
    assert response.context["result"].hits[0].matched == f"ticket #{ticket.pk}"


@pytest.mark.parametrize(("text", "headers"), [("", {}), (" ", {}), ("a", HTMX)])
def test_an_empty_or_one_character_search_answers_with_a_hint(
    operator_client: Client, text: str, headers: dict[str, str], django_assert_max_num_queries: Any
) -> None:
    CustomerFactory.create(full_name="Anna")

    with django_assert_max_num_queries(4) as queries:  # session, user, permissions
        response = operator_client.get(SEARCH, {"q": text}, headers=headers)

    assert response.status_code == 200
    assert "Type at least 2 characters" in response.content.decode()
    assert response.context["result"].hits == []
    assert not [q for q in queries.captured_queries if "customers_customer" in q["sql"]]


def test_a_cleared_box_closes_the_results(operator_client: Client) -> None:
    response = operator_client.get(SEARCH, {"q": " "}, headers=HTMX)

    assert response.status_code == 200 and response.content == b""


def test_htmx_gets_only_the_results_and_a_browser_the_page(operator_client: Client) -> None:
    CustomerFactory.create(full_name="Anna Ivanova")

    partial = operator_client.get(SEARCH, {"q": "anna"}, headers=HTMX).content.decode()
    page = operator_client.get(SEARCH, {"q": "anna"}).content.decode()

    assert "Anna Ivanova" in partial and "<html" not in partial
    assert "Anna Ivanova" in page and "<html" in page


def test_no_match_offers_a_new_customer(operator_client: Client) -> None:
    html = operator_client.get(SEARCH, {"q": "Nobody Here"}).content.decode()

    assert "No customer matches" in html
    assert f"{reverse('customers:new')}?full_name=Nobody%20Here" in html


def test_search_takes_a_bounded_number_of_queries(
    operator_client: Client, django_assert_max_num_queries: Any
) -> None:
    for index in range(30):
        PhoneFactory.create(customer=CustomerFactory.create(full_name=f"Anna {index}"))

    with django_assert_max_num_queries(10):
        response = operator_client.get(SEARCH, {"q": "anna"}, headers=HTMX)

    assert len(response.context["result"].hits) == 20
    assert response.context["result"].truncated


def test_search_is_for_operators_only(client: Client, integration: User) -> None:
    assert client.get(SEARCH, {"q": "anna"}).status_code == 302
    client.force_login(integration)
    assert client.get(SEARCH, {"q": "anna"}).status_code == 403


# --- screen-pop ------------------------------------------------------------------------------


def test_a_call_from_a_known_number_opens_the_card(operator_client: Client) -> None:
    anna = CustomerFactory.create()
    PhoneFactory.create(customer=anna, value="+7 912 345-67-89")

    response = operator_client.get(CALL, {"phone": "8 912 345 67 89"})

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:card", args=[anna.pk])


def test_a_shared_number_lists_the_candidates(operator_client: Client) -> None:
    for name in ("Anna", "Boris"):
        PhoneFactory.create(customer=CustomerFactory.create(full_name=name), value="89123456789")

    response = operator_client.get(CALL, {"phone": "+79123456789"})

    assert response.status_code == 200
    assert {c.full_name for c in response.context["candidates"]} == {"Anna", "Boris"}


def test_an_unknown_number_offers_a_new_customer_with_it_filled_in(
    operator_client: Client,
) -> None:
    response = operator_client.get(CALL, {"phone": "+7 912 000-00-00"})

    assert response.status_code == 200
    assert "No customer has this contact yet." in response.content.decode()
    new = operator_client.get(response.context["new_url"])
    assert new.context["form"].initial == {"phone": "+7 912 000-00-00"}


def test_an_email_screen_pop_opens_the_card(operator_client: Client) -> None:
    anna = CustomerFactory.create()
    EmailFactory.create(customer=anna, value="anna@example.com")

    response = operator_client.get(CALL, {"email": "ANNA@example.com"})

    assert response["Location"] == reverse("customers:card", args=[anna.pk])


@pytest.mark.parametrize("query", [{"phone": "12ab"}, {"email": "not-an-address"}, {}])
def test_a_malformed_or_missing_contact_is_a_clear_400(
    operator_client: Client, query: dict[str, str]
) -> None:
    response = operator_client.get(CALL, query)

    assert response.status_code == 400
    assert response.context["error"]


def test_the_screen_pop_takes_few_queries(
    operator_client: Client, django_assert_max_num_queries: Any
) -> None:
    PhoneFactory.create(value="+7 912 345-67-89")

    # session, user, two permission reads, the indexed lookup and the candidates' tags
    with django_assert_max_num_queries(6):
        operator_client.get(CALL, {"phone": "89123456789"})


def test_the_screen_pop_is_for_operators_only(client: Client, integration: User) -> None:
    client.force_login(integration)
    assert client.get(CALL, {"phone": "89123456789"}).status_code == 403


# --- new customer ----------------------------------------------------------------------------


def test_a_new_customer_is_created_with_the_callers_number(operator_client: Client) -> None:
    response = operator_client.post(
        reverse("customers:new"),
        {"full_name": "Anna Ivanova", "phone": "8 (912) 345-67-89", "language": "ru"},
    )

    anna = Customer.objects.get(full_name="Anna Ivanova")
    assert response["Location"] == reverse("customers:card", args=[anna.pk])
    assert anna.contact_points.get().normalised_value == "+79123456789"


def test_a_bad_phone_on_a_new_customer_is_a_form_error_and_no_record(
    operator_client: Client,
) -> None:
    response = operator_client.post(
        reverse("customers:new"),
        {"full_name": "Anna Ivanova", "phone": "12ab", "language": "en"},
    )

    assert response.status_code == 400
    assert "is not a valid phone number" in str(response.context["form"].errors["phone"])
    assert not Customer.objects.exists() and not ContactPoint.objects.exists()


def test_a_new_customer_needs_a_name(operator_client: Client) -> None:
    response = operator_client.post(reverse("customers:new"), {"language": "en"})

    assert response.status_code == 400
    assert "full_name" in response.context["form"].errors


@pytest.mark.postgres
def test_the_name_search_can_use_the_trigram_index() -> None:
    from django.db import connection

    from customers.search import _name_filter

    CustomerFactory.create(full_name="Anna Ivanova")
    query = Customer.objects.filter(_name_filter("ivan")).order_by().values_list("pk", flat=True)

    # A tiny table is cheapest to scan: forbid the scans so the planner shows the index path.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = query.explain()

    assert "customer_full_name_trgm_idx" in plan
