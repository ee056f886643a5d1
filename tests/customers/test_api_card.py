"""GET /api/v1/customers/{id}/card/: the operator's card as JSON, section by section."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.test import APIClient
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.models import User
from accounts.tokens import issue_token
from customers.card import _SECTIONS, CardSection, register_section
from customers.models import Customer, Interest, Purchase, Reminder
from metrics import clv
from surveys.models import SurveyResponse
from tests.api.test_schema import _load_schema, keep_test_connection  # noqa: F401 - a fixture
from tests.api_fixtures import ClientFor, grant
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    InterestFactory,
    OfferFactory,
    PhoneFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
    SLAPolicyFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TagFactory,
    TicketFactory,
)
from tickets.models import Status, Ticket
from tickets.services import open_ticket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

# A Tuesday morning, UTC; the site's zone (Europe/Moscow) is three hours ahead.
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
EVERY_SECTION = [
    "identity",
    "contacts",
    "tickets",
    "purchases",
    "interests",
    "offers",
    "satisfaction",
    "predicted_value",  # metrics/card.py
    "timeline",
    "history",  # crm/history.py
]
# The card's own budget (tests/customers/test_card.py) plus token authentication and throttle.
CARD_QUERY_BOUND = 25


def card_url(customer_id: int) -> str:
    return reverse("customer-card", kwargs={"pk": customer_id})


@pytest.fixture
def frozen() -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield


@pytest.fixture
def full_customer(frozen: None) -> Customer:
    """A customer with something in every section of the card."""
    customer = CustomerFactory.create(
        full_name="Anna Ivanova", company="Romashka LLC", acquisition_campaign="spring-sale"
    )
    customer.tags.add(TagFactory.create(name="VIP"))
    PhoneFactory.create(customer=customer, value="8 (912) 345-67-89", is_primary=True)
    SLAPolicyFactory.create(first_response_minutes=60, resolution_minutes=480)
    open_ticket(
        customer=customer,
        subject="Screen flickers",
        channel="phone",
        body="It flickers after the update.",
        created_at=NOW - dt.timedelta(hours=3),
    )
    closed = TicketFactory.create(
        customer=customer, subject="Delivery question", created_at=NOW - dt.timedelta(days=1)
    )
    Ticket.objects.filter(pk=closed.pk).update(status=Status.RESOLVED, resolved_at=NOW)
    product = ProductFactory.create(name="Nova S2", warranty_months=12, price=Decimal("19990.00"))
    purchase = PurchaseFactory.create(
        customer=customer,
        product=product,
        amount=Decimal("19990.00"),
        purchased_at=NOW - dt.timedelta(days=353),
    )
    today = timezone.localdate(NOW)
    Purchase.objects.filter(pk=purchase.pk).update(warranty_ends_on=today + dt.timedelta(days=12))
    ReminderFactory.create(
        purchase=purchase,
        kind=Reminder.Kind.WARRANTY,
        due_on=today - dt.timedelta(days=2),
        delivery_status=Reminder.DeliveryStatus.SENT,
        sent_at=NOW - dt.timedelta(days=2),
    )
    InterestFactory.create(
        customer=customer,
        product=ProductFactory.create(name="Nova Dock", price=Decimal("2990.00")),
        kind=Interest.Kind.CART,
        occurred_at=NOW - dt.timedelta(days=3),
    )
    OfferFactory.create(customer=customer, product=ProductFactory.create(name="Care Pack"))
    invitation = SurveyInvitationFactory.create(customer=customer, survey=SurveyFactory.create())
    SurveyResponseFactory.create(
        invitation=invitation,
        score=2,
        comment="Waited too long",
        sentiment=SurveyResponse.Sentiment.NEGATIVE,
        answered_at=NOW - dt.timedelta(days=1),
    )
    for minutes in range(15):
        InteractionFactory.create(
            customer=customer,
            summary=f"call {minutes}",
            started_at=NOW - dt.timedelta(minutes=10 * minutes + 10),
        )
    return customer


def test_the_card_answers_every_section_with_its_fields(
    client_for: ClientFor, operator: User, full_customer: Customer
) -> None:
    response = client_for(operator).get(card_url(full_customer.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == full_customer.pk
    assert body["generated_at"] == "2026-03-10T09:00:00Z"
    assert body["section_order"] == EVERY_SECTION
    sections = body["sections"]
    assert list(sections) == EVERY_SECTION

    identity = sections["identity"]
    assert identity["full_name"] == "Anna Ivanova"
    assert identity["company"] == "Romashka LLC"
    assert identity["tags"] == ["VIP"]
    assert identity["acquisition_channel"] == full_customer.acquisition_channel
    assert identity["acquisition_campaign"] == "spring-sale"
    assert identity["customer_since"] == full_customer.customer_since.isoformat()
    assert identity["lifecycle"] == full_customer.lifecycle

    (phone,) = sections["contacts"]["contacts"]
    assert phone["normalised_value"] == "+79123456789"
    assert phone["display"] == "+7 912 345-67-89"
    assert phone["is_primary"] is True
    assert sections["contacts"]["more"] is False
    assert sections["contacts"]["all_url"].endswith(
        f"/api/v1/contact-points/?customer={full_customer.pk}"
    )

    tickets = sections["tickets"]
    assert (tickets["open_count"], tickets["total"]) == (1, 2)
    (flickers,) = tickets["open"]
    assert flickers["subject"] == "Screen flickers"
    assert flickers["last_message"] == "It flickers after the update."
    assert flickers["last_message_author"] == "customer"
    assert flickers["created_at"] == "2026-03-10T06:00:00Z"
    assert flickers["sla"]["state"] == "breached"
    first = flickers["sla"]["first_response"]
    assert first == {
        "state": "breached",
        "due_at": "2026-03-10T07:00:00Z",
        "target_seconds": 3600,
        "remaining_seconds": -7200,
    }
    resolution = flickers["sla"]["resolution"]
    assert resolution["state"] == "on_time"
    assert resolution["remaining_seconds"] == 5 * 3600
    assert [t["subject"] for t in tickets["closed"]] == ["Delivery question"]

    purchases = sections["purchases"]
    assert purchases["count"] == 1
    assert purchases["warning_days"] == 30
    (expiring,) = purchases["expiring"]
    assert expiring["product"]["name"] == "Nova S2"
    assert (expiring["amount"], expiring["currency"]) == ("19990.00", "RUB")
    assert expiring["purchased_at"] == (NOW - dt.timedelta(days=353)).isoformat().replace(
        "+00:00", "Z"
    )
    (warranty,) = expiring["terms"]
    assert warranty["kind"] == "warranty"
    assert warranty["ends_on"] == "2026-03-22"
    assert (warranty["days_left"], warranty["level"]) == (12, "soon")
    (reminder,) = expiring["reminders"]
    assert reminder["delivery_status"] == "sent"
    assert reminder["sent_at"] == "2026-03-08T09:00:00Z"
    assert [line["id"] for line in purchases["latest"]] == [expiring["id"]]

    interests = sections["interests"]
    assert interests["count"] == 1
    assert interests["interests"][0]["product"]["name"] == "Nova Dock"
    assert interests["interests"][0]["kind"] == "cart"

    offers = sections["offers"]
    revive = next(r for r in offers["recommendations"] if r["product"]["name"] == "Nova Dock")
    assert revive["rule"] and revive["reason"]
    assert revive["product"]["price"] == "2990.00"
    assert offers["made_count"] == 1
    assert offers["made"][0]["product"]["name"] == "Care Pack"
    assert offers["made"][0]["status"] == "offered"

    satisfaction = sections["satisfaction"]
    (value,) = satisfaction["value"]
    assert value["currency"] == "RUB"
    assert value["revenue"] == "19990.00"
    assert value["average_order_value"] == "19990.00"
    assert (value["purchases"], value["orders"]) == (1, 1)
    (answer,) = satisfaction["answers"]
    assert answer["survey"]["kind"] == "CSAT"
    assert (answer["score"], answer["badge"]) == (2, "bad")
    assert answer["comment"] == "Waited too long"
    assert answer["sentiment"] == "negative"
    assert answer["answered_at"] == "2026-03-09T09:00:00Z"

    timeline = sections["timeline"]
    assert timeline["count"] == 15
    assert [item["summary"] for item in timeline["items"]] == [f"call {i}" for i in range(10)]
    assert timeline["items"][0]["started_at"] == "2026-03-10T08:50:00Z"
    assert timeline["next_offset"] == 10
    assert timeline["more_url"] == (
        f"http://testserver/api/v1/interactions/?customer={full_customer.pk}"
    )


def test_the_average_order_is_the_metrics_one_a_days_purchases_being_one_order(
    client_for: ClientFor, operator: User, frozen: None
) -> None:
    """Three lines on two days: the card's API says 2 orders and 1,800 / 2, as the metrics do."""
    customer = CustomerFactory.create()
    day = NOW - dt.timedelta(days=20)
    for amount, when in [
        ("1000.00", day),
        ("500.00", day + dt.timedelta(minutes=5)),
        ("300.00", day + dt.timedelta(days=3)),
    ]:
        PurchaseFactory.create(customer=customer, amount=Decimal(amount), purchased_at=when)

    response = client_for(operator).get(card_url(customer.pk), {"sections": "satisfaction"})

    (value,) = response.json()["sections"]["satisfaction"]["value"]
    assert (value["purchases"], value["orders"]) == (3, 2)
    assert value["average_order_value"] == "900.00"
    metrics_value = clv.customer_value(customer.pk, now=NOW)
    assert (metrics_value.purchase_count, metrics_value.average_order_value) == (
        2,
        Decimal(value["average_order_value"]),
    )


@pytest.mark.parametrize(
    ("score", "badge"), [(10, "ok"), (9, "ok"), (8, "warn"), (7, "warn"), (6, "bad"), (0, "bad")]
)
def test_an_nps_answer_is_badged_by_its_band(
    client_for: ClientFor, operator: User, score: int, badge: str
) -> None:
    customer = CustomerFactory.create()
    survey = SurveyFactory.create(kind="NPS")
    SurveyResponseFactory.create(
        invitation=SurveyInvitationFactory.create(customer=customer, survey=survey), score=score
    )

    response = client_for(operator).get(card_url(customer.pk), {"sections": "satisfaction"})

    (answer,) = response.json()["sections"]["satisfaction"]["answers"]
    assert (answer["score"], answer["badge"]) == (score, badge)


def test_times_are_utc_whatever_the_users_time_zone(
    client_for: ClientFor, operator: User, full_customer: Customer
) -> None:
    operator.time_zone = "Asia/Vladivostok"
    operator.save()
    client = APIClient()
    client.force_login(operator)  # a session: core.middleware activates the operator's zone

    with mock.patch("django.utils.timezone.now", return_value=NOW):
        body = client.get(card_url(full_customer.pk)).json()

    assert body["sections"]["timeline"]["items"][0]["started_at"] == "2026-03-10T08:50:00Z"


def test_sections_asks_for_some_sections_only(
    client_for: ClientFor, operator: User, full_customer: Customer
) -> None:
    response = client_for(operator).get(
        card_url(full_customer.pk), {"sections": "timeline, identity"}
    )

    assert response.status_code == 200
    assert response.json()["section_order"] == ["identity", "timeline"]
    assert list(response.json()["sections"]) == ["identity", "timeline"]


@pytest.mark.parametrize("raw", ["identity,wishlist", "nope", "", " , "])
def test_an_unknown_or_empty_section_list_is_a_400_naming_it(
    client_for: ClientFor, operator: User, raw: str
) -> None:
    customer = CustomerFactory.create()

    response = client_for(operator).get(card_url(customer.pk), {"sections": raw})

    assert response.status_code == 400
    (message,) = response.json()["sections"]
    if raw.strip(" ,"):
        assert f"Unknown section: {raw.split(',')[-1]}." in message
    assert "identity, contacts, tickets" in message


def test_an_unknown_customer_is_a_404(client_for: ClientFor, operator: User) -> None:
    response = client_for(operator).get(card_url(999_999))

    assert response.status_code == 404
    assert response.json()["detail"]


def test_anonymous_is_a_401(anonymous: APIClient) -> None:
    assert anonymous.get(card_url(CustomerFactory.create().pk)).status_code == 401


def test_without_view_customer_it_is_a_403(client_for: ClientFor, integration: User) -> None:
    customer = CustomerFactory.create()
    other_rights = grant(integration, "tickets.view_ticket", "customers.view_purchase")

    assert client_for(other_rights).get(card_url(customer.pk)).status_code == 403


def test_sections_hidden_by_permission_on_the_page_are_hidden_in_the_api(
    client_for: ClientFor, integration: User, full_customer: Customer
) -> None:
    reader = grant(integration, "customers.view_customer", "tickets.view_ticket")

    body = client_for(reader).get(card_url(full_customer.pk)).json()
    asked = client_for(reader).get(card_url(full_customer.pk), {"sections": "purchases"}).json()

    assert body["section_order"] == ["identity", "contacts", "tickets"]
    assert list(body["sections"]) == ["identity", "contacts", "tickets"]
    assert asked["sections"] == {}  # known, but not this user's to see: left out as on the page


def test_a_section_the_user_may_not_see_on_the_page_is_not_in_the_api_either(
    client: Any, client_for: ClientFor, django_user_model: Any
) -> None:
    """The page and the API filter by the same rule: compare them for one limited user."""
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_customer"),
        Permission.objects.get(codename="view_surveyresponse"),
    )
    customer = CustomerFactory.create()
    client.force_login(viewer)

    page = client.get(reverse("customers:card", kwargs={"customer_id": customer.pk}))
    api = client_for(viewer).get(card_url(customer.pk)).json()

    page_sections = [key for key in EVERY_SECTION if f'id="section-{key}"' in page.content.decode()]
    assert api["section_order"] == page_sections == ["identity", "contacts", "satisfaction"]


def test_the_same_number_of_queries_whatever_the_history(
    client_for: ClientFor,
    operator: User,
    small_and_huge: tuple[Customer, Customer],
    django_assert_max_num_queries: Any,
) -> None:
    small, huge = small_and_huge
    client = client_for(operator)
    client.get(card_url(small.pk))  # warm the permission and content-type caches alike
    counts = []
    for customer in (small, huge):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(card_url(customer.pk))
        assert response.status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]
    with django_assert_max_num_queries(CARD_QUERY_BOUND):
        body = client.get(card_url(huge.pk)).json()
    sections = body["sections"]
    assert sections["purchases"]["count"] == 2000
    assert sections["tickets"]["total"] == 500
    assert sections["timeline"]["count"] == 10_000
    assert len(sections["timeline"]["items"]) == 10


def test_a_section_cannot_be_registered_without_its_json_form() -> None:
    common: dict[str, Any] = {
        "key": "another_apps_value",
        "title": "Another app's value",
        "position": 75,
        "template": "customers/card/identity.html",
        "load": lambda context: {},
    }
    with pytest.raises(TypeError):
        CardSection(**common)
    with pytest.raises(ImproperlyConfigured, match="serializer"):
        CardSection(**common, serializer=lambda data: data)  # type: ignore[arg-type]


class AnotherAppsValueSerializer(serializers.Serializer):
    expected_revenue = serializers.DecimalField(max_digits=14, decimal_places=2)


def test_a_section_registered_later_appears_in_the_api_and_its_schema(
    client_for: ClientFor, operator: User
) -> None:
    register_section(
        CardSection(
            key="another_apps_value",
            title="Predicted value",
            position=77,
            template="customers/card/identity.html",
            load=lambda context: {"expected_revenue": Decimal("1234.50")},
            serializer=AnotherAppsValueSerializer,
        )
    )
    try:
        body = client_for(operator).get(card_url(CustomerFactory.create().pk)).json()
        schema = SchemaGenerator().get_schema(request=None, public=True)
    finally:
        del _SECTIONS["another_apps_value"]

    assert body["section_order"][-4:-1] == ["predicted_value", "another_apps_value", "timeline"]
    assert body["sections"]["another_apps_value"] == {"expected_revenue": "1234.50"}
    properties = schema["components"]["schemas"]["CustomerCardSections"]["properties"]
    assert list(properties) == [*EVERY_SECTION[:-2], "another_apps_value", "timeline", "history"]


@pytest.mark.usefixtures("keep_test_connection")
def test_a_full_card_conforms_to_the_openapi_schema(
    operator: User, full_customer: Customer
) -> None:
    """Every section of a card holding data validates against the generated component."""
    operation = _load_schema()["/api/v1/customers/{id}/card/"]["GET"]
    _token, token = issue_token(user=operator)
    case = operation.Case(path_parameters={"id": full_customer.pk})

    with mock.patch("django.utils.timezone.now", return_value=NOW):
        response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=[response_schema_conformance])

    assert response.status_code == 200
    assert list(response.json()["sections"]) == EVERY_SECTION
