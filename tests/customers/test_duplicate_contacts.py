"""A contact another customer has: a warning with a link, and a deliberate way on."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from customers.models import ContactPoint, Customer
from customers.services import DuplicateContact, create_customer, save_contact_point
from tests.factories import CustomerFactory, EmailFactory, PhoneFactory
from tests.personas import issue_api_token

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def anna() -> Customer:
    customer = CustomerFactory.create(full_name="Anna Ivanova")
    PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    EmailFactory.create(customer=customer, value="anna@example.com")
    return customer


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def _api(user: User) -> APIClient:
    key = issue_api_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_service_refuses_a_shared_contact_unless_told(anna: Customer) -> None:
    with pytest.raises(DuplicateContact) as caught:
        create_customer(
            full_name="Boris",
            contact_points=[
                {"kind": "email", "value": "x@example.com"},
                {"kind": "phone", "value": "8 912 345 67 89"},
            ],
        )
    assert caught.value.customer_ids == [anna.pk]
    assert list(caught.value.message_dict) == ["contact_points[1].value"]
    assert not Customer.objects.filter(full_name="Boris").exists()

    boris = create_customer(
        full_name="Boris",
        contact_points=[{"kind": "phone", "value": "8 912 345 67 89"}],
        allow_duplicate_contact=True,
    )
    assert boris.contact_points.get().normalised_value == "+79123456789"


def test_correcting_the_label_of_a_shared_contact_is_no_new_duplicate(
    anna: Customer, operator: User
) -> None:
    boris = create_customer(
        full_name="Boris",
        contact_points=[{"kind": "phone", "value": "+79123456789"}],
        allow_duplicate_contact=True,
    )
    contact = boris.contact_points.get()

    save_contact_point(
        customer=boris,
        actor=operator,
        kind="phone",
        value="+79123456789",
        label="home",
        contact=contact,
    )

    contact.refresh_from_db()
    assert contact.label == "home"


def test_the_new_customer_form_warns_with_a_link_and_goes_on_when_ticked(
    operator_client: Client, anna: Customer
) -> None:
    data = {"full_name": "Boris Petrov", "phone": "8 (912) 345-67-89", "language": "en"}

    warned = operator_client.post(reverse("customers:new"), data)

    assert warned.status_code == 400
    text = warned.content.decode()
    assert "Another customer already has this contact: Anna Ivanova" in text
    assert f'href="{reverse("customers:card", args=[anna.pk])}"' in text
    assert 'type="checkbox" name="allow_duplicate_contact"' in text
    assert not Customer.objects.filter(full_name="Boris Petrov").exists()

    created = operator_client.post(
        reverse("customers:new"), {**data, "allow_duplicate_contact": "on"}
    )

    assert created.status_code == 302
    boris = Customer.objects.get(full_name="Boris Petrov")
    assert boris.contact_points.get().normalised_value == "+79123456789"


def test_the_new_customer_form_hides_the_box_when_nothing_is_shared(
    operator_client: Client,
) -> None:
    page = operator_client.get(reverse("customers:new")).content.decode()

    assert 'type="hidden" name="allow_duplicate_contact"' in page
    assert 'type="checkbox" name="allow_duplicate_contact"' not in page


def test_the_card_action_warns_and_adds_only_when_ticked(
    operator_client: Client, anna: Customer
) -> None:
    boris = CustomerFactory.create(full_name="Boris Petrov")
    url = reverse("customers:add_contact", args=[boris.pk])
    data = {"kind": "email", "value": "ANNA@example.com"}

    warned = operator_client.post(url, data, headers=HTMX)

    assert warned.status_code == 422
    text = warned.content.decode()
    assert f'href="{reverse("customers:card", args=[anna.pk])}"' in text
    assert 'type="checkbox" name="allow_duplicate_contact"' in text
    assert not boris.contact_points.exists()

    added = operator_client.post(url, {**data, "allow_duplicate_contact": "on"}, headers=HTMX)

    assert added.status_code == 200
    assert boris.contact_points.get().normalised_value == "anna@example.com"


def test_the_api_answers_400_with_the_existing_ids_and_takes_the_flag(
    operator: User, anna: Customer
) -> None:
    body = {"full_name": "Boris", "contact_points": [{"kind": "phone", "value": "8 912 345-67-89"}]}
    client = _api(operator)

    refused = client.post("/api/v1/customers/", body, format="json")

    assert refused.status_code == 400
    payload = refused.json()
    assert payload["existing_customer_ids"] == [str(anna.pk)]
    assert "contact_points[0].value" in payload
    assert not Customer.objects.filter(full_name="Boris").exists()

    created = client.post(
        "/api/v1/customers/", {**body, "allow_duplicate_contact": True}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert "allow_duplicate_contact" not in created.json()


def test_the_product_example_still_creates_a_customer(operator: User) -> None:
    response = _api(operator).post(
        "/api/v1/customers/",
        {
            "full_name": "Anna Ivanova",
            "contact_points": [{"kind": "phone", "value": "8 (912) 345-67-89"}],
        },
        format="json",
    )

    assert response.status_code == 201
    assert Customer.objects.get(pk=response.json()["id"]).full_name == "Anna Ivanova"


def test_the_contacts_api_refuses_a_shared_contact_unless_told(
    operator: User, anna: Customer
) -> None:
    boris = CustomerFactory.create()
    body = {"customer": boris.pk, "kind": "phone", "value": "+79123456789"}
    client = _api(operator)

    refused = client.post("/api/v1/contact-points/", body, format="json")
    allowed = client.post(
        "/api/v1/contact-points/", {**body, "allow_duplicate_contact": True}, format="json"
    )

    assert refused.status_code == 400 and refused.json()["existing_customer_ids"] == [str(anna.pk)]
    assert allowed.status_code == 201
    assert ContactPoint.objects.filter(customer=boris).count() == 1
