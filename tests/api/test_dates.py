"""Times: one form everywhere (RFC 3339 in UTC), and no dates a business record cannot have."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient

from accounts.models import User
from core.api.serializers import UTCDateTimeField
from crm.api_urls import router
from customers.imports import ImportRefused, import_purchases
from customers.models import Purchase
from surveys.models import SurveyResponse
from tests.api_fixtures import ClientFor
from tests.factories import (
    CustomerFactory,
    PhoneFactory,
    ProductFactory,
    PurchaseFactory,
    SurveyInvitationFactory,
)
from webhooks.models import Webhook, WebhookDelivery
from webhooks.services import delivery_body, emit_event

pytestmark = pytest.mark.django_db

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MOSCOW_MORNING = "2026-05-01T10:00:00+03:00"


@pytest.fixture
def root(client_for: ClientFor, admin_user: User) -> APIClient:
    return client_for(admin_user)


def _purchase_body(purchased_at: str) -> dict[str, Any]:
    return {
        "customer": CustomerFactory.create().pk,
        "product": ProductFactory.create().pk,
        "amount": "2500.00",
        "purchased_at": purchased_at,
    }


@pytest.mark.parametrize(
    "purchased_at",
    [
        "1850-06-01T12:00:00+03:00",
        "0001-01-01T00:00:00Z",
        "1969-12-31T12:00:00Z",
        (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat(),
    ],
)
def test_a_purchase_no_business_can_have_is_a_400_naming_the_field(
    root: APIClient, purchased_at: str
) -> None:
    response = root.post("/api/v1/purchases/", _purchase_body(purchased_at), format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["purchased_at", "code"]
    assert not Purchase.objects.exists()


def test_a_purchase_of_this_morning_is_written_back_in_utc(root: APIClient) -> None:
    created = root.post("/api/v1/purchases/", _purchase_body(MOSCOW_MORNING), format="json")
    purchase = Purchase.objects.get()
    PhoneFactory.create(customer=purchase.customer, value="+79123456789")

    detail = root.get(f"/api/v1/purchases/{purchase.pk}/").json()
    listed = root.get("/api/v1/purchases/").json()["results"][0]
    lookup = root.get("/api/v1/customers/lookup/", {"phone": "+79123456789"}).json()[0]
    card = root.get(f"/api/v1/customers/{purchase.customer_id}/card/").json()

    assert created.status_code == 201
    assert created.json()["purchased_at"] == "2026-05-01T07:00:00Z"
    assert detail["purchased_at"] == listed["purchased_at"] == "2026-05-01T07:00:00Z"
    assert lookup["last_purchase_at"] == "2026-05-01T07:00:00Z"
    assert RFC3339_UTC.match(detail["created_at"])
    assert card["sections"]["satisfaction"]["value"][0]["last_purchase_at"] == (
        "2026-05-01T07:00:00Z"
    )


def test_bulk_purchases_refuse_a_date_no_business_can_have(root: APIClient) -> None:
    customer = CustomerFactory.create(external_id="SHOP-1")
    item = {"customer_external_id": "SHOP-1", "amount": "10.00"}

    response = root.post(
        "/api/v1/purchases/bulk/",
        {
            "items": [
                {**item, "purchased_at": MOSCOW_MORNING},
                {**item, "purchased_at": "1850-01-01"},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["items"]) == ["1"]
    assert "purchased_at" in response.json()["items"]["1"]
    assert not customer.purchases.exists()


def test_the_import_refuses_a_date_no_business_can_have() -> None:
    csv = "customer_external_id,date,amount\nC-1,2026-01-10,10.00\nC-2,1850-01-01,20.00\n"

    with pytest.raises(ImportRefused) as refused:
        import_purchases(stream=io.StringIO(csv))

    assert "1850-01-01" in str(refused.value.result.errors)
    assert not Purchase.objects.exists()


def test_the_model_refuses_it_too_so_the_admin_does() -> None:
    purchase = PurchaseFactory.build(
        customer=CustomerFactory.create(),
        product=ProductFactory.create(),
        purchased_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    )

    with pytest.raises(ValidationError) as refused:
        purchase.full_clean()

    assert list(refused.value.message_dict) == ["purchased_at"]


def test_a_survey_answer_from_1850_is_a_400(root: APIClient) -> None:
    invitation = SurveyInvitationFactory.create()

    response = root.post(
        "/api/v1/responses/",
        {"invitation": invitation.pk, "score": 4, "answered_at": "1850-01-01T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "answered_at" in response.json()
    assert not SurveyResponse.objects.exists()


def test_webhook_payloads_write_times_in_utc() -> None:
    hook = Webhook.objects.create(name="BI", url="http://127.0.0.1:9/", events=["x.happened"])
    moscow = dt.datetime.fromisoformat(MOSCOW_MORNING).astimezone(timezone.get_default_timezone())

    emit_event(event="x.happened", payload={"at": moscow})
    delivery = WebhookDelivery.objects.get(webhook=hook)
    body = delivery_body(delivery=delivery, now=moscow)

    assert delivery.payload == {"at": "2026-05-01T07:00:00Z"}
    assert b'"created_at":"' in body
    assert re.search(rb'"created_at":"[^"]+Z"', body)


def _datetime_fields(serializer: serializers.Serializer[Any], path: str = "") -> list[Any]:
    found = []
    for name, declared in serializer.fields.items():
        field = declared.child if isinstance(declared, serializers.ListSerializer) else declared
        if isinstance(field, serializers.Serializer):
            found += _datetime_fields(field, f"{path}{name}.")
        elif isinstance(field, serializers.DateTimeField):
            found.append((f"{path}{name}", field))
    return found


@pytest.mark.parametrize(
    "viewset", [viewset for _prefix, viewset, _basename in router.registry], ids=str
)
def test_every_time_the_api_writes_is_utc(viewset: Any) -> None:
    serializer = viewset.serializer_class()

    fields = _datetime_fields(serializer)

    assert [name for name, field in fields if not isinstance(field, UTCDateTimeField)] == []
