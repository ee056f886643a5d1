"""Every path that writes purchases in bulk reaches the dashboard's customer figures.

The dashboard reads buying customers and repeat buyers from the per-customer-day summary
(metrics.purchase_days) once it is built. The API's bulk endpoint, `import_purchases`, the
demo data and the admin all write purchases; after each, the figures must count them (the
bulk endpoint once left the summary untouched: 0 buying customers after an integration
pushed its orders).
"""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import issue_token
from customers.models import Purchase
from metrics import purchase_days, purchase_days_upkeep
from metrics.customer_figures import customer_figures
from metrics.models import PurchaseDaysBuild
from metrics.periods import MetricFilters, Period
from tests.api_fixtures import grant
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PERIOD = Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31))


@pytest.fixture(autouse=True)
def _summary_built() -> None:
    """A deployed site: the purchase summary was built (the purchase_days job ran)."""
    purchase_days_upkeep.rebuild()
    assert purchase_days.is_current()


def _activity(period: Period = PERIOD) -> dict[str, Any]:
    return customer_figures(MetricFilters(period=period), [period])[0]["activity"]


def _grouped_activity(period: Period = PERIOD) -> dict[str, Any]:
    """The same figures from the grouped query over the purchases themselves (the truth)."""
    PurchaseDaysBuild.objects.all().delete()
    try:
        return _activity(period)
    finally:
        PurchaseDaysBuild.objects.create(time_zone=timezone.get_default_timezone_name())


def test_purchases_pushed_through_the_api_bulk_endpoint_reach_the_dashboard(
    integration: User,
) -> None:
    shop = grant(integration, "customers.add_purchase", group_name="Shop")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user=shop)[1]}")
    anna = CustomerFactory.create(external_id="A-1")
    boris = CustomerFactory.create(external_id="B-1")
    items = [
        {"customer_external_id": "A-1", "amount": "100.00", "purchased_at": "2025-03-02T10:00Z"},
        {"customer_external_id": "A-1", "amount": "50.00", "purchased_at": "2025-03-20T10:00Z"},
        {"customer": boris.pk, "amount": "70.00", "purchased_at": "2025-03-05T10:00Z"},
    ]
    response = api.post("/api/v1/purchases/bulk/", {"items": items}, format="json")
    assert response.status_code == 201, response.content

    activity = _activity()
    assert (activity["customers"], activity["repeaters"]) == (2, 1)
    assert activity == _grouped_activity()
    assert anna.pk in set(Purchase.objects.values_list("customer_id", flat=True))


def test_purchases_imported_by_the_command_reach_the_dashboard(tmp_path: Path) -> None:
    CustomerFactory.create(external_id="A-1")
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "customer_external_id,date,amount\n"
        "A-1,2025-03-02,100.00\n"
        "A-1,2025-03-21,40.00\n"
        "NEW-7,2025-03-09,10.00\n"
    )
    call_command("import_purchases", str(csv), stdout=StringIO())

    activity = _activity()
    assert (activity["customers"], activity["repeaters"]) == (2, 1)
    assert activity == _grouped_activity()


def test_the_demo_data_reaches_the_dashboard() -> None:
    call_command("seed_demo", seed=3, customers=40, stdout=StringIO())
    today = timezone.localdate()
    period = Period(today - dt.timedelta(days=179), today)

    activity = _activity(period)
    assert activity["customers"] > 0
    assert activity["repeaters"] > 0
    assert activity == _grouped_activity(period)


def test_purchases_added_in_the_admin_reach_the_dashboard(admin_user: User) -> None:
    customer = CustomerFactory.create()
    browser = Client()
    browser.force_login(admin_user)
    for day in ("2025-03-03", "2025-03-17"):
        response = browser.post(
            "/admin/customers/purchase/add/",
            {
                "customer": customer.pk,
                "quantity": 1,
                "amount": "25.00",
                "currency": "RUB",
                "channel": "online",
                "status": Purchase.Status.COMPLETED,
                "purchased_at_0": day,
                "purchased_at_1": "12:00:00",
            },
        )
        assert response.status_code == 302, response.content.decode()[-3000:]

    activity = _activity()
    assert (activity["customers"], activity["repeaters"]) == (1, 1)
    assert activity == _grouped_activity()
