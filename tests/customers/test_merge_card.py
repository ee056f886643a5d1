"""The card's "Merge duplicate" action."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Customer, CustomerAlias
from tests.factories import CustomerFactory, PhoneFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def pair(db: None) -> tuple[Customer, Customer]:
    anna = CustomerFactory.create(full_name="Anna Ivanova")
    again = CustomerFactory.create(full_name="A. Ivanova")
    PhoneFactory.create(customer=anna, value="+79120000001")
    PhoneFactory.create(customer=again, value="8 912 000-00-01")
    return anna, again


def merge_url(customer: Customer) -> str:
    return reverse("customers:merge_duplicate", args=[customer.pk])


def test_a_supervisor_merges_a_likely_duplicate_from_the_card(
    client: Client, supervisor: User, pair: tuple[Customer, Customer]
) -> None:
    anna, again = pair
    client.force_login(supervisor)

    card = client.get(reverse("customers:card", args=[anna.pk])).content.decode()
    form = client.get(merge_url(anna), headers=HTMX).content.decode()
    response = client.post(merge_url(anna), {"other": again.pk}, headers=HTMX)

    assert merge_url(anna) in card
    assert "A. Ivanova" in form
    assert response.status_code == 200
    assert "Duplicate merged into this customer." in response.content.decode()
    assert "hx-swap-oob" in response.content.decode()  # the sections come back refreshed
    assert not Customer.objects.filter(pk=again.pk).exists()
    assert CustomerAlias.objects.get().customer == anna


def test_without_javascript_the_merge_redirects_to_the_card(
    client: Client, supervisor: User, pair: tuple[Customer, Customer]
) -> None:
    anna, again = pair
    client.force_login(supervisor)

    response = client.post(merge_url(anna), {"other": again.pk})

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:card", args=[anna.pk])


def test_only_a_likely_duplicate_can_be_chosen(
    client: Client, supervisor: User, pair: tuple[Customer, Customer]
) -> None:
    anna, _again = pair
    stranger = CustomerFactory.create(full_name="Vera Zorina")
    client.force_login(supervisor)

    response = client.post(merge_url(anna), {"other": stranger.pk}, headers=HTMX)
    empty = client.post(merge_url(anna), {}, headers=HTMX)

    assert response.status_code == empty.status_code == 422
    assert "Choose the duplicate." in empty.content.decode()
    assert Customer.objects.count() == 3


def test_operators_have_no_merge_action(
    client: Client, operator: User, pair: tuple[Customer, Customer]
) -> None:
    anna, again = pair
    client.force_login(operator)

    card = client.get(reverse("customers:card", args=[anna.pk])).content.decode()
    response = client.post(merge_url(anna), {"other": again.pk}, headers=HTMX)

    assert merge_url(anna) not in card
    assert response.status_code == 403
    assert Customer.objects.count() == 2
