"""The customer card: every section in PRODUCT.md's order, their content, and bounded queries."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from customers.card import _SECTIONS, CardSection, card_sections, register_section
from customers.models import Customer, Interaction, Purchase, Reminder
from metrics import clv
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
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

pytestmark = pytest.mark.django_db

PRODUCT_ORDER = [
    "identity",
    "contacts",
    "tickets",
    "purchases",
    "interests",
    "offers",
    "satisfaction",
    "predicted_value",  # metrics/card.py
    "timeline",
    "history",  # crm/history.py: the audit history
]


def card_url(customer: Customer) -> str:
    return reverse("customers:card", kwargs={"customer_id": customer.pk})


@pytest.fixture
def operator_client(client: Client, operator: User) -> Client:
    client.force_login(operator)
    return client


def test_the_card_shows_every_section_in_the_product_order(
    operator_client: Client,
) -> None:
    customer = CustomerFactory.create(full_name="Anna Ivanova", company="Romashka LLC")
    customer.tags.add(TagFactory.create(name="VIP"))
    PhoneFactory.create(customer=customer, value="8 (912) 345-67-89")

    response = operator_client.get(card_url(customer))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'id="section-([a-z_]+)"', html) == PRODUCT_ORDER
    assert "Anna Ivanova" in html and "Romashka LLC" in html and "VIP" in html
    assert "+7 912 345-67-89" in html
    assert "Organic search" in html  # acquisition channel


def test_a_section_from_any_app_takes_its_place_by_position() -> None:
    register_section(
        CardSection(
            key="another_apps_section",
            title="Another app's section",
            position=77,
            template="customers/card/identity.html",
            load=lambda context: {},
            serializer=serializers.Serializer,
            width="third",
        )
    )
    try:
        keys = [section.key for section in card_sections()]
        assert (
            keys.index("satisfaction") < keys.index("another_apps_section") < keys.index("timeline")
        )
    finally:
        del _SECTIONS["another_apps_section"]


def test_a_section_needing_a_permission_is_hidden_without_it(
    client: Client, django_user_model: Any
) -> None:
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)

    html = client.get(card_url(CustomerFactory.create())).content.decode()

    assert re.findall(r'id="section-([a-z_]+)"', html) == ["identity", "contacts"]


def test_open_tickets_come_first_with_sla_state_and_last_message(operator_client: Client) -> None:
    customer = CustomerFactory.create()
    SLAPolicyFactory.create(first_response_minutes=60, resolution_minutes=480)
    late = open_ticket(
        customer=customer,
        subject="Screen flickers",
        channel="phone",
        body="It flickers after the update.",
        created_at=timezone.now() - dt.timedelta(hours=3),
    )
    closed = TicketFactory.create(customer=customer, subject="Delivery question")
    Ticket.objects.filter(pk=closed.pk).update(status=Status.RESOLVED, resolved_at=timezone.now())

    html = operator_client.get(card_url(customer)).content.decode()

    assert (
        html.index("Screen flickers")
        < html.index("Recently closed")
        < html.index("Delivery question")
    )
    assert "SLA breached" in html  # no reply within the hour
    assert "It flickers after the update." in html
    assert f"#{late.pk}" in html


def test_an_expiring_warranty_warns_with_days_left_and_its_reminder(
    operator_client: Client,
) -> None:
    customer = CustomerFactory.create()
    today = timezone.localdate()
    product = ProductFactory.create(name="Nova S2", warranty_months=12)
    purchase = PurchaseFactory.create(customer=customer, product=product)
    Purchase.objects.filter(pk=purchase.pk).update(warranty_ends_on=today + dt.timedelta(days=12))
    ReminderFactory.create(
        purchase=purchase,
        kind=Reminder.Kind.WARRANTY,
        due_on=today - dt.timedelta(days=2),
        delivery_status=Reminder.DeliveryStatus.SENT,
        sent_at=timezone.now() - dt.timedelta(days=2),
    )

    html = operator_client.get(card_url(customer)).content.decode()

    assert f"Expiring within {settings.CRM_EXPIRY_WARNING_DAYS} days" in html
    assert "expires in 12 days" in html
    assert "Reminder" in html and "sent" in html


def test_satisfaction_shows_answers_comments_sentiment_and_value(
    operator_client: Client,
) -> None:
    customer = CustomerFactory.create()
    expensive = ProductFactory.create(price=Decimal("1000.00"), cost=Decimal("600.00"))
    now = timezone.now()
    PurchaseFactory.create(
        customer=customer,
        product=expensive,
        amount=Decimal("1000.00"),
        purchased_at=now - dt.timedelta(days=40),
    )
    PurchaseFactory.create(
        customer=customer,
        product=None,
        amount=Decimal("500.00"),
        purchased_at=now - dt.timedelta(days=30),
    )
    invitation = SurveyInvitationFactory.create(customer=customer, survey=SurveyFactory.create())
    SurveyResponseFactory.create(
        invitation=invitation, score=2, comment="Waited too long", sentiment="negative"
    )

    html = operator_client.get(card_url(customer)).content.decode()

    assert "Waited too long" in html and "Negative" in html
    assert "CSAT 2/5" in html
    assert "1,500.00\xa0RUB" in html  # revenue to date
    assert "750.00\xa0RUB" in html  # average order
    assert "400.00\xa0RUB" in html  # margin on the purchase whose cost is known
    assert "(1/2)" in html


def test_the_average_order_counts_a_days_purchases_as_one_order_as_the_metrics_do(
    operator_client: Client,
) -> None:
    """Two lines bought on one day and one on another are two orders: 1,800 / 2 = 900."""
    customer = CustomerFactory.create()
    day = timezone.now() - dt.timedelta(days=20)
    for amount, when in [
        ("1000.00", day),
        ("500.00", day + dt.timedelta(minutes=5)),
        ("300.00", day + dt.timedelta(days=3)),
    ]:
        PurchaseFactory.create(customer=customer, amount=Decimal(amount), purchased_at=when)

    html = operator_client.get(card_url(customer)).content.decode()
    metrics_value = clv.customer_value(customer.pk, now=timezone.now())

    assert metrics_value.average_order_value == Decimal("900.00")
    assert "900.00\xa0RUB" in html  # average order
    assert "(2 orders)" in html  # beside the 3 purchase lines


def test_money_and_dates_follow_the_operators_language(client: Client, operator: User) -> None:
    operator.language = "ru"
    operator.save()
    client.force_login(operator)
    customer = CustomerFactory.create()
    PurchaseFactory.create(customer=customer, amount=Decimal("19990.00"))

    html = client.get(card_url(customer)).content.decode()

    assert "19\xa0990,00\xa0RUB" in html
    assert "Покупки" in html


def test_the_timeline_shows_the_newest_items_and_links_to_the_rest(
    operator_client: Client,
) -> None:
    customer = CustomerFactory.create()
    now = timezone.now()
    for minutes in range(15):
        InteractionFactory.create(
            customer=customer,
            summary=f"call {minutes}",
            started_at=now - dt.timedelta(minutes=10 * minutes + 10),
        )

    html = operator_client.get(card_url(customer)).content.decode()

    assert "call 0<" in html and "call 9<" in html and "call 10<" not in html
    assert "all 15" in html
    assert f"{reverse('customers:timeline', args=[customer.pk])}?offset=10" in html


def test_an_unknown_customer_is_a_404(operator_client: Client) -> None:
    assert operator_client.get("/customers/999999/").status_code == 404


def test_the_card_asks_a_visitor_to_log_in(client: Client) -> None:
    response = client.get(card_url(CustomerFactory.create()))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_without_the_operator_role_is_refused(client: Client, integration: User) -> None:
    client.force_login(integration)

    assert client.get(card_url(CustomerFactory.create())).status_code == 403


# --- bounded queries ---------------------------------------------------------------------------


def test_the_card_takes_the_same_number_of_queries_whatever_the_history(
    operator_client: Client,
    small_and_huge: tuple[Customer, Customer],
    django_assert_max_num_queries: Any,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small, huge = small_and_huge
    # Warm the session and permission caches alike; each card measured below then moves to the
    # head of the recently opened list, the same session write for both.
    operator_client.get(card_url(huge))
    counts = []
    for customer in (small, huge):
        with CaptureQueriesContext(connection) as queries:
            response = operator_client.get(card_url(customer))
        assert response.status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]
    # 25 since each list's count rides with its rows (customers.selectors.page_of); 31 before.
    with django_assert_max_num_queries(25):
        operator_client.get(card_url(huge))


def test_the_huge_card_shows_only_the_newest_items(
    operator_client: Client, small_and_huge: tuple[Customer, Customer]
) -> None:
    _small, huge = small_and_huge

    html = operator_client.get(card_url(huge)).content.decode()

    assert "all 2000" in html and "all 500" in html and "all 10000" in html
    assert html.count('class="ticket-row"') <= 8
    assert html.count("data-interaction=") == 10


def test_times_are_shown_in_the_operators_time_zone(client: Client, operator: User) -> None:
    operator.time_zone = "Asia/Vladivostok"  # UTC+10
    operator.save()
    client.force_login(operator)
    customer = CustomerFactory.create()
    InteractionFactory.create(
        customer=customer, started_at=dt.datetime(2026, 1, 10, 0, 30, tzinfo=dt.UTC)
    )

    html = client.get(card_url(customer)).content.decode()

    assert "01/10/2026 10:30 a.m." in html


def test_a_sent_reminder_appears_on_the_timeline(operator_client: Client) -> None:
    customer = CustomerFactory.create()
    InteractionFactory.create(
        customer=customer,
        kind=Interaction.Kind.REMINDER,
        channel="email",
        direction="outbound",
        answered_at=None,
        summary="Your warranty on Nova S2 ends in 30 days",
    )

    html = operator_client.get(card_url(customer)).content.decode()

    assert "Reminder sent" in html and "Your warranty on Nova S2 ends in 30 days" in html
