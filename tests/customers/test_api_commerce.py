"""Products, purchases, interests, interactions, offers and reminders through the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import User
from customers.models import Interaction, Interest, Offer, Product, Purchase, Reminder
from tests.api_fixtures import ClientFor, grant
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def shop(integration: User) -> User:
    """The web shop's machine user: may sync products, orders and carts, nothing else."""
    return grant(
        integration,
        *(
            f"customers.{action}_{model}"
            for model in ("customer", "product", "purchase", "interest")
            for action in ("view", "add", "change")
        ),
        group_name="Shop",
    )


def test_product_upsert_by_sku_twice_gives_one_record(client_for: ClientFor, shop: User) -> None:
    client = client_for(shop)
    body = {"name": "Kettle", "price": "2500.00", "warranty_months": 12}

    first = client.put("/api/v1/products/by-sku/KT-1/", body, format="json")
    second = client.put(
        "/api/v1/products/by-sku/KT-1/", {**body, "price": "2400.00"}, format="json"
    )

    assert (first.status_code, second.status_code) == (201, 200), (first.data, second.data)
    product = Product.objects.get()
    assert product.sku == "KT-1"
    assert product.price == Decimal("2400.00")


def test_product_upsert_by_external_id(client_for: ClientFor, shop: User) -> None:
    body = {"sku": "KT-2", "name": "Kettle", "price": "10"}
    client = client_for(shop)

    assert (
        client.put("/api/v1/products/by-external-id/P-9/", body, format="json").status_code == 201
    )
    assert (
        client.put("/api/v1/products/by-external-id/P-9/", body, format="json").status_code == 200
    )
    assert Product.objects.get().external_id == "P-9"


def test_negative_price_and_huge_number_are_400(client_for: ClientFor, shop: User) -> None:
    client = client_for(shop)

    negative = client.post(
        "/api/v1/products/", {"sku": "A", "name": "A", "price": "-1"}, format="json"
    )
    huge = client.post(
        "/api/v1/products/", {"sku": "B", "name": "B", "price": "1" * 40}, format="json"
    )

    assert negative.status_code == 400 and "price" in negative.data
    assert huge.status_code == 400 and "price" in huge.data


def test_purchase_upsert_by_external_id_derives_terms(client_for: ClientFor, shop: User) -> None:
    customer = CustomerFactory.create()
    product = ProductFactory.create(warranty_months=12)
    body = {
        "customer": customer.pk,
        "product": product.pk,
        "amount": "19990.00",
        "purchased_at": "2026-01-15T10:00:00Z",
    }
    client = client_for(shop)

    first = client.put("/api/v1/purchases/by-external-id/ORDER-1-1/", body, format="json")
    second = client.put(
        "/api/v1/purchases/by-external-id/ORDER-1-1/",
        {**body, "status": "refunded"},
        format="json",
    )

    assert (first.status_code, second.status_code) == (201, 200), first.data
    purchase = Purchase.objects.get()
    assert purchase.status == "refunded"
    assert purchase.warranty_ends_on == dt.date(2027, 1, 15)


def test_bulk_purchases_create_hundreds_in_bounded_queries(
    client_for: ClientFor, shop: User, django_assert_max_num_queries
) -> None:
    customers = CustomerFactory.create_batch(5)
    products = ProductFactory.create_batch(3)
    items = [
        {
            "customer_external_id": customers[i % 5].external_id,
            "product_sku": products[i % 3].sku,
            "external_id": f"L-{i}",
            "amount": "100.50",
            "channel": "online",
        }
        for i in range(300)
    ]
    client = client_for(shop)

    # auth and permissions, customers, products, taken external ids, one insert (+savepoint),
    # and the buyers' purchase summary rebuilt in one batch (metrics.purchase_days: the buyers
    # locked, customers.locks, as the co-purchase counts lock them too; read the
    # rows' signatures, delete, insert ... select, read them again, uncover changed days) with
    # what the card keeps of them (customers.values: the value to date and the owned
    # products, each deleted and inserted ... selected; the purchase lines' tally, one
    # upsert), and the co-purchase
    # counts kept in one batch (customers.co_purchases: the buyers, their rows locked, the
    # pairs table locked against a rebuild, one upsert; the answer cache's version)
    with django_assert_max_num_queries(28):
        response = client.post("/api/v1/purchases/bulk/", {"items": items}, format="json")

    assert response.status_code == 201, response.data
    assert response.data["created"] == 300
    assert Purchase.objects.count() == 300
    assert Purchase.objects.filter(warranty_ends_on__isnull=False).count() == 300


def test_bulk_with_one_bad_item_creates_nothing_and_names_it(
    client_for: ClientFor, shop: User
) -> None:
    customer = CustomerFactory.create()
    items = [{"customer": customer.pk, "amount": "10"} for _ in range(50)]
    items[17] = {"customer": customer.pk, "amount": "ten"}
    items[30] = {"customer_external_id": "nobody", "amount": "10"}
    items[41] = {"customer": customer.pk, "amount": "1", "channel": "carrier pigeon"}

    response = client_for(shop).post("/api/v1/purchases/bulk/", {"items": items}, format="json")

    assert response.status_code == 400
    assert set(response.data["items"]) == {"17", "30", "41"}
    assert "amount" in response.data["items"]["17"]
    assert "customer_external_id" in response.data["items"]["30"]
    assert "channel" in response.data["items"]["41"]
    assert not Purchase.objects.exists()


def test_bulk_refuses_duplicate_external_ids_and_too_many_items(
    client_for: ClientFor, shop: User, settings
) -> None:
    customer = CustomerFactory.create()
    PurchaseFactory.create(customer=customer, external_id="OLD")
    client = client_for(shop)
    items = [
        {"customer": customer.pk, "amount": "1", "external_id": "OLD"},
        {"customer": customer.pk, "amount": "1", "external_id": "NEW"},
        {"customer": customer.pk, "amount": "1", "external_id": "NEW"},
    ]

    duplicates = client.post("/api/v1/purchases/bulk/", {"items": items}, format="json")
    settings.API_BULK_MAX_ITEMS = 2
    too_many = client.post("/api/v1/purchases/bulk/", {"items": items}, format="json")
    not_a_list = client.post("/api/v1/purchases/bulk/", {"items": "x"}, format="json")

    assert duplicates.status_code == 400
    assert set(duplicates.data["items"]) == {"0", "2"}
    assert too_many.status_code == 400 and "items" in too_many.data
    assert not_a_list.status_code == 400
    assert Purchase.objects.count() == 1


def test_bulk_interests_for_abandoned_carts(client_for: ClientFor, shop: User) -> None:
    customer = CustomerFactory.create()
    product = ProductFactory.create()
    items = [
        {"customer": customer.pk, "product_sku": product.sku, "kind": "cart", "channel": "web"},
        {"customer": customer.pk, "description": "A red one", "kind": "quote", "channel": "email"},
        {"customer": customer.pk, "kind": "view", "channel": "web", "status": "dismissed"},
    ]

    refused = client_for(shop).post("/api/v1/interests/bulk/", {"items": items}, format="json")
    created = client_for(shop).post("/api/v1/interests/bulk/", {"items": items[:2]}, format="json")

    assert refused.status_code == 400 and set(refused.data["items"]) == {"2"}
    assert created.status_code == 201, created.data
    assert Interest.objects.filter(status="open").count() == 2


def test_bulk_needs_add_permission(client_for: ClientFor, integration: User) -> None:
    user = grant(integration, "customers.view_purchase")

    response = client_for(user).post("/api/v1/purchases/bulk/", {"items": []}, format="json")

    assert response.status_code == 403


def test_purchase_list_filters_by_customer_and_date(client_for: ClientFor, operator: User) -> None:
    customer = CustomerFactory.create()
    PurchaseFactory.create(customer=customer, purchased_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    PurchaseFactory.create(customer=customer, purchased_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    PurchaseFactory.create()

    response = client_for(operator).get(
        "/api/v1/purchases/",
        {"customer": str(customer.pk), "purchased_after": "2026-01-01T00:00:00Z"},
    )

    assert response.status_code == 200
    assert len(response.data["results"]) == 1


def test_operator_records_an_interaction_and_an_offer(
    client_for: ClientFor, operator: User
) -> None:
    customer = CustomerFactory.create()
    client = client_for(operator)

    interaction = client.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "phone",
            "direction": "inbound",
            "started_at": "2026-11-20T10:00:00Z",
            "answered_at": "2026-11-20T10:00:30Z",
            "ended_at": "2026-11-20T10:05:00Z",
            "summary": "Asked about delivery",
        },
        format="json",
    )
    backwards = client.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "phone",
            "direction": "inbound",
            "started_at": "2026-11-20T10:00:00Z",
            "ended_at": "2026-11-20T09:00:00Z",
        },
        format="json",
    )
    offer = client.post(
        "/api/v1/offers/", {"customer": customer.pk, "reason": "Warranty ends soon"}, format="json"
    )
    answer = client.post(
        f"/api/v1/offers/{offer.data['id']}/respond/", {"status": "accepted"}, format="json"
    )

    assert interaction.status_code == 201, interaction.data
    assert interaction.data["operator"] == operator.pk
    assert backwards.status_code == 400
    assert offer.status_code == 201, offer.data
    assert offer.data["operator"] == operator.pk and offer.data["status"] == "offered"
    assert answer.status_code == 200, answer.data
    assert Interaction.objects.count() == 1
    assert Offer.objects.get().responded_at is not None


def test_operator_cannot_delete_interactions(client_for: ClientFor, operator: User) -> None:
    from tests.factories import InteractionFactory

    interaction = InteractionFactory.create()

    response = client_for(operator).delete(f"/api/v1/interactions/{interaction.pk}/")

    assert response.status_code == 403


def test_reminders_are_read_and_cancelled(
    client_for: ClientFor, operator: User, supervisor: User
) -> None:
    reminder = ReminderFactory.create()
    sent = ReminderFactory.create(
        delivery_status="sent", sent_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )

    listed = client_for(operator).get("/api/v1/reminders/")
    by_operator = client_for(operator).post(f"/api/v1/reminders/{reminder.pk}/cancel/")
    cancelled = client_for(supervisor).post(f"/api/v1/reminders/{reminder.pk}/cancel/")
    too_late = client_for(supervisor).post(f"/api/v1/reminders/{sent.pk}/cancel/")

    assert listed.status_code == 200 and len(listed.data["results"]) == 2
    assert by_operator.status_code == 403
    assert cancelled.status_code == 200 and cancelled.data["delivery_status"] == "cancelled"
    assert too_late.status_code == 409
    assert Reminder.objects.get(pk=sent.pk).delivery_status == "sent"


def test_updates_of_products_interests_and_offers(
    client_for: ClientFor, supervisor: User, django_assert_max_num_queries
) -> None:
    from tests.factories import InterestFactory, OfferFactory

    product = ProductFactory.create()
    interest = InterestFactory.create()
    offer = OfferFactory.create()
    client = client_for(supervisor)

    dismissed = client.patch(
        f"/api/v1/interests/{interest.pk}/", {"status": "dismissed"}, format="json"
    )
    declined = client.post(
        f"/api/v1/offers/{offer.pk}/respond/", {"status": "declined"}, format="json"
    )
    bad_status = client.post(
        f"/api/v1/offers/{offer.pk}/respond/", {"status": "maybe"}, format="json"
    )
    by_supervisor = client.patch(
        f"/api/v1/products/{product.pk}/", {"price": "1.00"}, format="json"
    )
    with django_assert_max_num_queries(6):
        detail = client.get(f"/api/v1/products/{product.pk}/")

    assert dismissed.status_code == 200 and dismissed.data["closed_at"]
    assert declined.status_code == 200 and declined.data["responded_at"]
    assert bad_status.status_code == 400 and "status" in bad_status.data
    # Products are the catalogue's: operators and supervisors read them, admins and the shop
    # change them.
    assert by_supervisor.status_code == 403
    assert detail.status_code == 200
