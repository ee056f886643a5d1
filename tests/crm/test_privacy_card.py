"""The card's privacy actions: only the privacy role sees them; export is recorded."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Customer, DataExportRecord
from tests.factories import CustomerFactory, PhoneFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> Customer:
    customer = CustomerFactory.create(full_name="Anna Cardova")
    PhoneFactory.create(customer=customer)
    return customer


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_privacy_officer_sees_the_actions_and_operators_do_not(
    customer: Customer, privacy_officer: User, operator: User
) -> None:
    url = reverse("customers:card", args=[customer.pk])

    officer_page = _client(privacy_officer).get(url).content.decode()
    operator_page = _client(operator).get(url).content.decode()

    assert 'data-action="export_data"' in officer_page
    assert 'data-action="erase_data"' in officer_page
    assert 'data-action="export_data"' not in operator_page
    assert 'data-action="erase_data"' not in operator_page


def test_download_from_the_card_is_recorded(customer: Customer, privacy_officer: User) -> None:
    client = _client(privacy_officer)

    panel = client.get(reverse("privacy_card:export", args=[customer.pk]), HTTP_HX_REQUEST="true")
    response = client.get(reverse("privacy_card:download", args=[customer.pk]))

    assert reverse("privacy_card:download", args=[customer.pk]) in panel.content.decode()
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert json.loads(response.content)["customer"]["full_name"] == "Anna Cardova"
    record = DataExportRecord.objects.get()
    assert (record.customer, record.actor, record.path) == (customer, privacy_officer, "card")


def test_erase_from_the_card_needs_the_confirmation(
    customer: Customer, privacy_officer: User
) -> None:
    client = _client(privacy_officer)
    url = reverse("privacy_card:erase", args=[customer.pk])

    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 400
    assert Customer.objects.get(pk=customer.pk).anonymised_at is None

    confirmed = client.post(url, {"confirm": "on"})
    assert confirmed.status_code == 302
    erased = Customer.objects.get(pk=customer.pk)
    assert erased.anonymised_at is not None
    assert not erased.contact_points.exists()


@pytest.mark.parametrize("persona", ["operator", "supervisor"])
def test_other_roles_cannot_export_or_erase_from_the_card(
    customer: Customer, persona: str, request: pytest.FixtureRequest
) -> None:
    client = _client(request.getfixturevalue(persona))

    download = client.get(reverse("privacy_card:download", args=[customer.pk]))
    erase = client.post(reverse("privacy_card:erase", args=[customer.pk]), {"confirm": "on"})

    assert (download.status_code, erase.status_code) == (403, 403)
    assert not DataExportRecord.objects.exists()
    assert Customer.objects.get(pk=customer.pk).anonymised_at is None
