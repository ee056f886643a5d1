"""Customers through the API: the fixed request shapes, validation, roles, filters, upserts."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from customers.models import ContactPoint, Customer
from tests.api_fixtures import ClientFor
from tests.factories import CustomerFactory, EmailFactory, PhoneFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

URL = "/api/v1/customers/"


def test_create_customer_with_nested_phone_answers_201_with_id(
    client_for: ClientFor, operator: User
) -> None:
    response = client_for(operator).post(
        URL,
        {
            "full_name": "Anna Ivanova",
            "contact_points": [{"kind": "phone", "value": "8 (912) 345-67-89"}],
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    customer = Customer.objects.get(pk=response.data["id"])
    contact = customer.contact_points.get()
    assert contact.normalised_value == "+79123456789"
    assert contact.is_primary
    assert response.data["card_url"] == f"/customers/{customer.pk}/"


def test_a_value_that_is_no_phone_is_a_400_naming_the_field(
    client_for: ClientFor, operator: User
) -> None:
    response = client_for(operator).post(
        URL,
        {"full_name": "Anna", "contact_points": [{"kind": "phone", "value": "not a phone"}]},
        format="json",
    )

    assert response.status_code == 400
    assert "value" in response.data["contact_points"][0]
    assert not Customer.objects.exists()


def test_missing_name_and_unknown_choice_are_field_errors(
    client_for: ClientFor, operator: User
) -> None:
    response = client_for(operator).post(URL, {"segment": "galactic"}, format="json")

    assert response.status_code == 400
    assert set(response.data) >= {"full_name", "segment"}


def test_anonymous_request_is_401_with_token_challenge(anonymous: APIClient) -> None:
    response = anonymous.get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_operator_may_not_delete_customers(client_for: ClientFor, operator: User) -> None:
    customer = CustomerFactory.create()

    response = client_for(operator).delete(f"{URL}{customer.pk}/")

    assert response.status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_deleting_a_customer_with_history_is_a_conflict_not_a_500(
    client_for: ClientFor, admin_user: User
) -> None:
    from tests.factories import PurchaseFactory

    purchase = PurchaseFactory.create()

    response = client_for(admin_user).delete(f"{URL}{purchase.customer_id}/")

    assert response.status_code == 409


def test_retrieve_and_partial_update(client_for: ClientFor, operator: User) -> None:
    customer = CustomerFactory.create(full_name="Boris")
    PhoneFactory.create(customer=customer)
    client = client_for(operator)

    fetched = client.get(f"{URL}{customer.pk}/")
    changed = client.patch(
        f"{URL}{customer.pk}/",
        {
            "company": "Acme",
            "tags": ["VIP", "wholesale"],
            "contact_points": [{"kind": "email", "value": "Boris@Example.com"}],
        },
        format="json",
    )

    assert fetched.status_code == 200
    assert fetched.data["full_name"] == "Boris"
    assert len(fetched.data["contact_points"]) == 1
    assert changed.status_code == 200, changed.data
    customer.refresh_from_db()
    assert customer.company == "Acme"
    assert sorted(changed.data["tags"]) == ["VIP", "wholesale"]
    assert customer.contact_points.count() == 2


def test_external_id_taken_by_another_customer_is_a_400(
    client_for: ClientFor, operator: User
) -> None:
    CustomerFactory.create(external_id="SHOP-1")

    response = client_for(operator).post(
        URL, {"full_name": "Copy", "external_id": "SHOP-1"}, format="json"
    )

    assert response.status_code == 400
    assert "external_id" in response.data


def test_list_filters_and_its_query_count_is_bounded(
    client_for: ClientFor, operator: User, django_assert_max_num_queries
) -> None:
    for _ in range(15):
        customer = CustomerFactory.create(segment=Customer.Segment.ENTERPRISE)
        PhoneFactory.create(customer=customer)
        EmailFactory.create(customer=customer)
    CustomerFactory.create(segment=Customer.Segment.CONSUMER)
    client = client_for(operator)

    # token, user permissions, group permissions, the page, its contacts, its tags
    with django_assert_max_num_queries(6):
        response = client.get(URL, {"segment": "enterprise", "page_size": "10"})

    assert response.status_code == 200
    assert len(response.data["results"]) == 10
    assert all(row["segment"] == "enterprise" for row in response.data["results"])
    assert response.data["next"]
    rest = client.get(response.data["next"])
    assert len(rest.data["results"]) == 5
    assert "count" not in response.data


def test_bad_filter_value_is_a_400(client_for: ClientFor, operator: User) -> None:
    response = client_for(operator).get(URL, {"updated_since": "yesterday-ish"})

    assert response.status_code == 400
    assert "updated_since" in response.data


def test_page_size_is_capped(client_for: ClientFor, operator: User, settings) -> None:
    settings.API_MAX_PAGE_SIZE = 3
    CustomerFactory.create_batch(5)

    response = client_for(operator).get(URL, {"page_size": "1000"})

    assert len(response.data["results"]) == 3


def test_upsert_by_external_id_twice_gives_one_record(
    client_for: ClientFor, operator: User
) -> None:
    client = client_for(operator)
    url = f"{URL}by-external-id/SHOP-42/"

    first = client.put(
        url,
        {
            "full_name": "Anna",
            "contact_points": [{"kind": "email", "value": "anna@example.com"}],
        },
        format="json",
    )
    second = client.put(
        url,
        {
            "full_name": "Anna Ivanova",
            "contact_points": [{"kind": "email", "value": "ANNA@example.com"}],
        },
        format="json",
    )

    assert first.status_code == 201, first.data
    assert second.status_code == 200, second.data
    customer = Customer.objects.get(external_id="SHOP-42")
    assert customer.full_name == "Anna Ivanova"
    assert customer.contact_points.count() == 1


def test_upsert_needs_change_permission(client_for: ClientFor, integration: User) -> None:
    from tests.api_fixtures import grant

    user = grant(integration, "customers.view_customer", "customers.add_customer")

    response = client_for(user).put(
        f"{URL}by-external-id/X1/", {"full_name": "Anna"}, format="json"
    )

    assert response.status_code == 403


def test_upsert_refuses_a_list_body(client_for: ClientFor, operator: User) -> None:
    response = client_for(operator).put(f"{URL}by-external-id/X1/", [1, 2], format="json")

    assert response.status_code == 400


def test_contact_points_resource(client_for: ClientFor, operator: User) -> None:
    customer = CustomerFactory.create()
    client = client_for(operator)

    created = client.post(
        "/api/v1/contact-points/",
        {"customer": customer.pk, "kind": "phone", "value": "+7 912 000-11-22"},
        format="json",
    )
    bad = client.post(
        "/api/v1/contact-points/",
        {"customer": customer.pk, "kind": "email", "value": "no-at-sign"},
        format="json",
    )
    duplicate = client.post(
        "/api/v1/contact-points/",
        {"customer": customer.pk, "kind": "phone", "value": "89120001122"},
        format="json",
    )
    listed = client.get("/api/v1/contact-points/", {"customer": customer.pk})
    deleted = client.delete(f"/api/v1/contact-points/{created.data['id']}/")

    assert created.status_code == 201, created.data
    assert created.data["normalised_value"] == "+79120001122"
    assert bad.status_code == 400 and "value" in bad.data
    assert duplicate.status_code == 400 and "value" in duplicate.data
    assert len(listed.data["results"]) == 1
    assert deleted.status_code == 204
    assert not ContactPoint.objects.exists()


def test_unknown_and_malformed_ids_are_404(client_for: ClientFor, operator: User) -> None:
    client = client_for(operator)

    assert client.get(f"{URL}999999/").status_code == 404
    assert client.get(f"{URL}abc/").status_code == 404
    assert client.get(f"{URL}99999999999999999999999/").status_code == 404
