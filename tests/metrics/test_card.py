"""The predicted-value section of the customer card (metrics/card.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.card import customer_card
from customers.models import Customer
from customers.purchases import write_purchases
from tests.factories import (
    CLVModelFitFactory,
    CustomerFactory,
    ProductFactory,
    PurchaseFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _buyer(purchase_days: int) -> Customer:
    """A customer who bought on `purchase_days` different days over the past two years."""
    customer = CustomerFactory.create()
    product = ProductFactory.create()
    start = NOW - dt.timedelta(days=700)
    step = dt.timedelta(days=max(1, 690 // purchase_days))
    write_purchases(
        purchases=[
            PurchaseFactory.build(
                customer=customer,
                product=product,
                amount=Decimal("1000.00"),
                purchased_at=start + step * i,
            )
            for i in range(purchase_days)
        ]
    )
    return customer


def _section(customer: Customer, user: User, *, now: dt.datetime = NOW) -> Any:
    card = customer_card(customer.pk, user=user, now=now, only=("predicted_value",))
    section = card.section("predicted_value")
    assert section is not None
    return section.data


def test_without_a_fitted_model_the_card_says_how_to_get_predictions(
    client: Client, operator: User
) -> None:
    customer = _buyer(3)
    client.force_login(operator)

    html = client.get(reverse("customers:card", kwargs={"customer_id": customer.pk})).content

    assert "No purchase model is fitted yet" in html.decode()
    assert _section(customer, operator)["alive_percent"] is None


def test_with_a_fitted_model_the_card_shows_the_prediction(client: Client, operator: User) -> None:
    CLVModelFitFactory.create(until=NOW.date())
    customer = _buyer(6)
    client.force_login(operator)

    data = _section(customer, operator)
    html = client.get(reverse("customers:card", kwargs={"customer_id": customer.pk})).content

    value = data["value"]
    assert 0 <= data["alive_percent"] <= 100
    assert value.predicted_clv is not None and value.predicted_clv > 0
    assert value.expected_purchases > 0
    # The page computes at the real clock's now, not the test's NOW: compare like with like.
    shown = _section(customer, operator, now=timezone.now())["alive_percent"]
    assert f"{shown}%" in html.decode()


def test_a_recently_active_frequent_buyer_is_likelier_active_than_a_lapsed_one(
    operator: User,
) -> None:
    CLVModelFitFactory.create(until=NOW.date())
    frequent = _buyer(20)
    lapsed = CustomerFactory.create()
    for days_ago in (900, 880, 860):
        PurchaseFactory.create(customer=lapsed, purchased_at=NOW - dt.timedelta(days=days_ago))

    assert (
        _section(frequent, operator)["alive_percent"] > _section(lapsed, operator)["alive_percent"]
    )


def test_the_section_costs_the_same_queries_for_a_long_history(operator: User) -> None:
    CLVModelFitFactory.create(until=NOW.date())
    short, long = _buyer(3), _buyer(300)
    operator.has_perm("customers.view_purchase")  # warm the permission cache

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for customer in (short, long):
        with CaptureQueriesContext(connection) as queries:
            _section(customer, operator)
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 6


def test_a_user_who_may_not_see_purchases_does_not_see_the_prediction(
    operator: User,
) -> None:
    from django.contrib.auth.models import Permission

    operator.groups.clear()
    operator.user_permissions.add(Permission.objects.get(codename="view_customer"))
    operator = User.objects.get(pk=operator.pk)  # fresh permission cache
    customer = _buyer(2)

    card = customer_card(customer.pk, user=operator, now=timezone.now())

    assert card.section("predicted_value") is None


def test_the_api_card_carries_the_prediction(operator: User) -> None:
    from rest_framework.test import APIClient

    CLVModelFitFactory.create(until=NOW.date())
    customer = _buyer(6)
    client = APIClient()
    client.force_authenticate(operator)

    response = client.get(f"/api/v1/customers/{customer.pk}/card/", {"sections": "predicted_value"})

    assert response.status_code == 200
    section = response.json()["sections"]["predicted_value"]
    assert 0 <= section["probability_alive"] <= 1
    assert float(section["predicted_clv"]) > 0
    assert section["horizon_months"] == 12
