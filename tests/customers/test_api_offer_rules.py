"""Rules that every path keeps: an offer is answered once, by a named action with its actor;
a contact is logged by whoever is logged in; nobody links another customer's records; a
reminder is cancelled through one service."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.roles import OPERATORS
from customers.models import Interaction, Interest, Offer, Reminder
from tests.api_fixtures import ClientFor, grant
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    InterestFactory,
    OfferFactory,
    PurchaseFactory,
    ReminderFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

OFFERS = "/api/v1/offers/"


def _declined_offer() -> Offer:
    return OfferFactory.create(status=Offer.Status.DECLINED, responded_at=timezone.now())


def test_patch_cannot_turn_a_declined_offer_into_an_accepted_one(
    client_for: ClientFor, operator: User
) -> None:
    offer = _declined_offer()

    response = client_for(operator).patch(
        f"{OFFERS}{offer.pk}/", {"status": "accepted"}, format="json"
    )

    assert response.status_code == 400 and "status" in response.data
    assert Offer.objects.get(pk=offer.pk).status == Offer.Status.DECLINED


def test_status_responded_at_purchase_and_operator_are_read_only_on_create_and_update(
    client_for: ClientFor, operator: User
) -> None:
    customer = CustomerFactory.create()
    colleague = UserFactory.create(username="petr", groups=[OPERATORS])
    purchase = PurchaseFactory.create(customer=customer)
    client = client_for(operator)
    base = {"customer": customer.pk, "reason": "Extended warranty"}

    refused = {
        field: client.post(OFFERS, {**base, field: value}, format="json")
        for field, value in (
            ("status", "accepted"),
            ("responded_at", "2026-01-01T10:00:00Z"),
            ("purchase", purchase.pk),
            ("operator", colleague.pk),
        )
    }
    created = client.post(OFFERS, {**base, "status": "offered"}, format="json")
    reason = client.patch(f"{OFFERS}{created.data['id']}/", {"reason": "Better"}, format="json")

    for field, response in refused.items():
        assert response.status_code == 400, field
        assert field in response.data, field
    assert created.status_code == 201, created.data
    assert created.data["operator"] == operator.pk
    assert reason.status_code == 200 and reason.data["reason"] == "Better"
    assert Offer.objects.count() == 1


def test_respond_records_the_answer_once_with_its_actor(
    client_for: ClientFor, operator: User
) -> None:
    offer = OfferFactory.create()
    purchase = PurchaseFactory.create(customer=offer.customer)
    client = client_for(operator)

    accepted = client.post(
        f"{OFFERS}{offer.pk}/respond/",
        {"status": "accepted", "purchase": purchase.pk},
        format="json",
    )
    again = client.post(f"{OFFERS}{offer.pk}/respond/", {"status": "declined"}, format="json")

    assert accepted.status_code == 200, accepted.data
    assert accepted.data["status"] == "accepted"
    assert accepted.data["purchase"] == purchase.pk
    assert accepted.data["operator"] == operator.pk
    assert again.status_code == 400 and "status" in again.data
    stored = Offer.objects.get(pk=offer.pk)
    assert (stored.status, stored.purchase_id) == (Offer.Status.ACCEPTED, purchase.pk)
    assert LogEntry.objects.filter(object_id=str(offer.pk), user=operator).exists()


def test_respond_refuses_bad_answers_and_another_customers_purchase(
    client_for: ClientFor, operator: User
) -> None:
    offer = OfferFactory.create()
    strangers = PurchaseFactory.create()
    client = client_for(operator)

    foreign = client.post(
        f"{OFFERS}{offer.pk}/respond/",
        {"status": "accepted", "purchase": strangers.pk},
        format="json",
    )
    back_to_open = client.post(f"{OFFERS}{offer.pk}/respond/", {"status": "offered"}, format="json")
    declined_with_purchase = client.post(
        f"{OFFERS}{offer.pk}/respond/",
        {"status": "declined", "purchase": PurchaseFactory.create(customer=offer.customer).pk},
        format="json",
    )

    assert foreign.status_code == 400 and "purchase" in foreign.data
    assert back_to_open.status_code == 400 and "status" in back_to_open.data
    assert declined_with_purchase.status_code == 400 and "purchase" in declined_with_purchase.data
    assert Offer.objects.get(pk=offer.pk).status == Offer.Status.OFFERED


def test_respond_needs_the_change_offer_permission(
    client_for: ClientFor, integration: User
) -> None:
    offer = OfferFactory.create()
    reader = grant(integration, "customers.view_offer", group_name="BI")

    response = client_for(reader).post(
        f"{OFFERS}{offer.pk}/respond/", {"status": "accepted"}, format="json"
    )

    assert response.status_code == 403
    assert Offer.objects.get(pk=offer.pk).status == Offer.Status.OFFERED


def test_an_offer_cannot_point_at_another_customers_interaction(
    client_for: ClientFor, operator: User
) -> None:
    customer = CustomerFactory.create()
    strangers_call = InteractionFactory.create()
    own_call = InteractionFactory.create(customer=customer)
    offer = OfferFactory.create(customer=customer)
    client = client_for(operator)

    created = client.post(
        OFFERS,
        {"customer": customer.pk, "reason": "Case", "interaction": strangers_call.pk},
        format="json",
    )
    moved = client.patch(f"{OFFERS}{offer.pk}/", {"interaction": strangers_call.pk}, format="json")
    own = client.patch(f"{OFFERS}{offer.pk}/", {"interaction": own_call.pk}, format="json")

    assert created.status_code == 400 and "interaction" in created.data
    assert moved.status_code == 400 and "interaction" in moved.data
    assert own.status_code == 200, own.data
    assert Offer.objects.count() == 1


def test_an_interest_cannot_point_at_another_customers_purchase(
    client_for: ClientFor, operator: User
) -> None:
    customer = CustomerFactory.create()
    strangers = PurchaseFactory.create()
    own = PurchaseFactory.create(customer=customer)
    interest = InterestFactory.create(customer=customer)
    client = client_for(operator)
    converted = {"status": "converted", "closed_at": "2026-01-02T10:00:00Z"}

    created = client.post(
        "/api/v1/interests/",
        {
            "customer": customer.pk,
            "kind": "cart",
            "channel": "web",
            "description": "A kettle",
            "purchase": strangers.pk,
            **converted,
        },
        format="json",
    )
    linked = client.patch(
        f"/api/v1/interests/{interest.pk}/", {"purchase": strangers.pk, **converted}, format="json"
    )
    linked_own = client.patch(
        f"/api/v1/interests/{interest.pk}/", {"purchase": own.pk, **converted}, format="json"
    )

    assert created.status_code == 400 and "purchase" in created.data
    assert linked.status_code == 400 and "purchase" in linked.data
    assert linked_own.status_code == 200, linked_own.data
    assert Interest.objects.count() == 1


def test_the_admin_refuses_another_customers_records_too(admin_user: User) -> None:
    customer = CustomerFactory.create()
    strangers_call = InteractionFactory.create()
    browser = Client()
    browser.force_login(admin_user)

    response = browser.post(
        "/admin/customers/offer/add/",
        {
            "customer": customer.pk,
            "rule": Offer.Rule.MANUAL,
            "reason": "Case",
            "status": Offer.Status.OFFERED,
            "offered_at_0": "2026-01-02",
            "offered_at_1": "10:00:00",
            "interaction": strangers_call.pk,
        },
    )

    assert response.status_code == 200
    assert "The contact is from another customer." in response.content.decode()
    assert not Offer.objects.exists()


def test_an_interaction_is_logged_by_whoever_is_logged_in(
    client_for: ClientFor, operator: User
) -> None:
    customer = CustomerFactory.create()
    colleague = UserFactory.create(username="petr", groups=[OPERATORS])
    client = client_for(operator)
    call = {
        "customer": customer.pk,
        "channel": "phone",
        "direction": "inbound",
        "started_at": "2026-11-20T10:00:00Z",
        "summary": "Delivery",
    }

    as_colleague = client.post("/api/v1/interactions/", {**call, "operator": colleague.pk})
    own = client.post("/api/v1/interactions/", call, format="json")
    reassigned = client.patch(
        f"/api/v1/interactions/{own.data['id']}/", {"operator": colleague.pk}, format="json"
    )

    assert as_colleague.status_code == 400 and "operator" in as_colleague.data
    assert own.status_code == 201 and own.data["operator"] == operator.pk
    assert reassigned.status_code == 400 and "operator" in reassigned.data
    assert list(Interaction.objects.values_list("operator", flat=True)) == [operator.pk]


def test_cancelling_a_reminder_is_one_service_for_the_api_and_the_admin(
    client_for: ClientFor, supervisor: User, admin_user: User
) -> None:
    by_api, by_admin = ReminderFactory.create(), ReminderFactory.create()
    old = timezone.now() - dt.timedelta(days=3)
    Reminder.objects.update(updated_at=old)
    browser = Client()
    browser.force_login(admin_user)

    response = client_for(supervisor).post(f"/api/v1/reminders/{by_api.pk}/cancel/")
    browser.post(
        "/admin/customers/reminder/",
        {"action": "cancel", "_selected_action": [by_admin.pk]},
    )

    assert response.status_code == 200 and response.data["delivery_status"] == "cancelled"
    for reminder, actor in ((by_api, supervisor), (by_admin, admin_user)):
        stored = Reminder.objects.get(pk=reminder.pk)
        assert stored.delivery_status == Reminder.DeliveryStatus.CANCELLED
        assert stored.updated_at > old
        assert LogEntry.objects.filter(object_id=str(reminder.pk), user=actor).exists()
