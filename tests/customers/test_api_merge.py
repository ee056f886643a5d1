"""Merging duplicate customers: everything moves, atomically, and the old identity still finds
the survivor; duplicates are found for review; the API endpoint and its permission."""

from __future__ import annotations

from typing import Any

import pytest
from auditlog.models import LogEntry as AuditLogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection
from django.db.models import Model
from django.utils import timezone

from accounts.models import User
from customers.duplicates import duplicates_of, likely_duplicates
from customers.merge import merge_customers
from customers.models import (
    ContactPoint,
    Customer,
    CustomerAlias,
    CustomerTally,
    DataExportRecord,
    OwnedProduct,
    Purchase,
    ValueToDate,
)
from customers.search import search_customers
from metrics.models import PurchaseDay
from surveys.models import SurveyInvitation
from telephony.models import Call, Direction
from tests.api_fixtures import ClientFor
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    InterestFactory,
    OfferFactory,
    PhoneFactory,
    PurchaseFactory,
    ReminderFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TagFactory,
    TicketFactory,
    TicketMessageFactory,
    UserFactory,
)
from webhooks.models import Webhook, WebhookDelivery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def foreign_keys_to_customer() -> list[tuple[type[Model], str]]:
    """Every foreign key to Customer in the app registry (found here, not by the app)."""
    return [
        (model, field.attname)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Customer
    ]


def history(customer: Customer, *, phone: str) -> None:
    """One record of every kind that points at a customer."""
    PhoneFactory.create(customer=customer, value=phone)
    EmailFactory.create(customer=customer)
    purchase = PurchaseFactory.create(customer=customer)
    ReminderFactory.create(purchase=purchase)
    InterestFactory.create(customer=customer)
    InteractionFactory.create(customer=customer)
    OfferFactory.create(customer=customer)
    ticket = TicketFactory.create(customer=customer)
    TicketMessageFactory.create(ticket=ticket)
    invitation = SurveyInvitationFactory.create(customer=customer)
    SurveyResponseFactory.create(invitation=invitation, score=4)
    customer.tags.add(TagFactory.create())
    customer.full_name += " "  # an audit entry of a change
    customer.save()
    Call.objects.create(
        call_id=f"merge-{customer.pk}",
        direction=Direction.INBOUND,
        caller=phone,
        called="100",
        rang_at=timezone.now(),
        customer=customer,
    )
    DataExportRecord.objects.create(
        customer=customer,
        customer_number=customer.pk,
        actor=UserFactory.create(),
        path=DataExportRecord.Path.API,
    )


def snapshot() -> dict[str, Any]:
    """Who every record belongs to, and both customers' fields."""
    state: dict[str, Any] = {}
    for model, attname in foreign_keys_to_customer():
        state[f"{model._meta.label}.{attname}"] = sorted(
            model._base_manager.values_list("pk", attname)
        )
    state["customers"] = sorted(Customer.objects.values_list())
    state["tags"] = sorted(Customer.tags.through.objects.values_list("customer_id", "tag_id"))
    state["audit"] = sorted(AuditLogEntry.objects.values_list("pk", "object_pk"))
    return state


@pytest.fixture
def pair(db: None) -> tuple[Customer, Customer]:
    survivor = CustomerFactory.create(full_name="Anna Ivanova", external_id="SHOP-1")
    other = CustomerFactory.create(full_name="Anna Ivanova", external_id="SHOP-2", company="Acme")
    history(survivor, phone="+79120000001")
    history(other, phone="+79120000001")  # the same phone: one contact after the merge
    return survivor, other


def test_merge_moves_every_record_that_points_at_a_customer(
    pair: tuple[Customer, Customer], admin_user: User
) -> None:
    survivor, other = pair
    before: dict[tuple[type[Model], str], tuple[int, int]] = {}
    for model, attname in foreign_keys_to_customer():
        mine = model._base_manager.filter(**{attname: survivor.pk}).count()
        theirs = model._base_manager.filter(**{attname: other.pk}).count()
        if model is not CustomerAlias:
            assert theirs, f"the history has no {model._meta.label}: add one"
        before[(model, attname)] = (mine, theirs)

    merge_customers(survivor=survivor, other=other, actor=admin_user)

    assert not Customer.objects.filter(pk=other.pk).exists()
    for (model, attname), (mine, theirs) in before.items():
        assert not model._base_manager.filter(**{attname: other.pk}).exists(), model
        now = model._base_manager.filter(**{attname: survivor.pk}).count()
        if model is ContactPoint:
            assert now == mine + theirs - 1  # the shared phone once
        elif model is PurchaseDay:
            assert now >= mine  # rebuilt from the purchases, not moved
        elif model is ValueToDate:  # rebuilt: one row a currency, summing both histories
            kept = ValueToDate.objects.filter(customer=survivor)
            assert sum(row.purchases for row in kept) == (
                Purchase.objects.filter(customer=survivor, status="completed").count()
            )
        elif model is CustomerTally:  # rebuilt: one row, counting both histories
            assert now == 1
        elif model is OwnedProduct:  # rebuilt: one row a product either of them owned
            assert now == (
                Purchase.objects.filter(customer=survivor, status="completed")
                .values("product_id")
                .distinct()
                .count()
            )
        elif model is CustomerAlias:
            assert now == 1
        else:
            assert now == mine + theirs, model
    survivor.refresh_from_db()
    assert survivor.company == "Acme"  # filled from the other where the survivor had none
    assert survivor.tags.count() == 2
    assert survivor.contact_points.filter(is_primary=True, kind="phone").count() == 1
    alias = CustomerAlias.objects.get()
    assert (alias.merged_customer_id, alias.external_id) == (other.pk, "SHOP-2")
    customer_type = ContentType.objects.get_for_model(Customer)
    history_entries = AuditLogEntry.objects.filter(
        content_type=customer_type, object_pk=str(survivor.pk)
    )
    assert history_entries.filter(changes__has_key="merged_from", actor=admin_user).exists()
    assert not AuditLogEntry.objects.filter(
        content_type=customer_type, object_pk=str(other.pk)
    ).exists()
    assert history_entries.count() >= 5  # both creations, both renames, the merge


def test_purchase_summary_of_the_survivor_counts_both_customers_purchases(
    pair: tuple[Customer, Customer], admin_user: User
) -> None:
    survivor, other = pair
    days = PurchaseDay.objects.filter(customer__in=pair).values_list("lines", flat=True)
    lines = sum(days)

    merge_customers(survivor=survivor, other=other, actor=admin_user)

    assert sum(PurchaseDay.objects.filter(customer=survivor).values_list("lines", flat=True)) == (
        lines
    )


def test_invitations_for_the_same_survey_and_cause_both_survive(admin_user: User) -> None:
    survivor, other = CustomerFactory.create_batch(2)
    survey = SurveyFactory.create()
    SurveyInvitationFactory.create(customer=survivor, survey=survey, cause="periodic:2026-11")
    SurveyInvitationFactory.create(customer=other, survey=survey, cause="periodic:2026-11")

    merge_customers(survivor=survivor, other=other, actor=admin_user)

    assert SurveyInvitation.objects.filter(customer=survivor).count() == 2


def _refuse_aliases() -> None:
    """A database trigger that refuses to store an alias: the merge fails after moving rows."""
    table = CustomerAlias._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION h7_refuse() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'aliases refused'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER h7_refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION h7_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER h7_refuse BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'aliases refused'); END"
            )


def test_a_merge_failing_midway_leaves_both_customers_as_they_were(
    pair: tuple[Customer, Customer], admin_user: User
) -> None:
    survivor, other = pair
    before = snapshot()
    _refuse_aliases()

    with pytest.raises(DatabaseError):
        merge_customers(survivor=survivor, other=other, actor=admin_user)

    assert snapshot() == before


def test_the_old_external_id_and_id_find_the_survivor(
    pair: tuple[Customer, Customer], admin_user: User
) -> None:
    survivor, other = pair
    merge_customers(survivor=survivor, other=other, actor=admin_user)

    assert [hit.customer.pk for hit in search_customers("SHOP-2").hits] == [survivor.pk]


def test_the_shop_pushing_orders_for_the_old_external_id_reaches_the_survivor(
    pair: tuple[Customer, Customer], admin_user: User, client_for: ClientFor
) -> None:
    survivor, other = pair
    merge_customers(survivor=survivor, other=other, actor=admin_user)
    bought = survivor.purchases.count()

    response = client_for(admin_user).post(
        "/api/v1/purchases/bulk/",
        {"items": [{"customer_external_id": "SHOP-2", "amount": "10.00", "external_id": "O-1"}]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert survivor.purchases.count() == bought + 1


def test_likely_duplicates_share_a_contact_or_a_name() -> None:
    anna, anna_again, boris, boris_again, vera = CustomerFactory.create_batch(5)
    PhoneFactory.create(customer=anna, value="+79120000001")
    PhoneFactory.create(customer=anna_again, value="8 (912) 000-00-01")
    Customer.objects.filter(pk=boris.pk).update(full_name="Boris Petrov")
    Customer.objects.filter(pk=boris_again.pk).update(full_name="BORIS PETROV")
    Customer.objects.filter(pk=vera.pk).update(full_name="Vera Zorina")

    pairs = {(p.first.pk, p.second.pk) for p in likely_duplicates()}

    assert pairs == {(anna.pk, anna_again.pk), (boris.pk, boris_again.pk)}
    assert [p.second.pk for p in duplicates_of(anna)] == [anna_again.pk]


@pytest.mark.postgres
def test_similar_names_are_duplicates_by_trigram_on_postgresql() -> None:
    anna = CustomerFactory.create(full_name="Anna Ivanova")
    ana_typo = CustomerFactory.create(full_name="Ana Ivanova")
    CustomerFactory.create(full_name="Vera Zorina")

    assert {(p.first.pk, p.second.pk) for p in likely_duplicates()} == {(anna.pk, ana_typo.pk)}
    assert [p.second.pk for p in duplicates_of(anna)] == [ana_typo.pk]


def test_merge_endpoint(
    pair: tuple[Customer, Customer],
    client_for: ClientFor,
    supervisor: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    survivor, other = pair
    Webhook.objects.create(name="BI", url="http://127.0.0.1:9/", events=["customer.merged"])
    url = f"/api/v1/customers/{survivor.pk}/merge/"

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(supervisor).post(url, {"other": other.pk}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == survivor.pk
    assert not Customer.objects.filter(pk=other.pk).exists()
    delivery = WebhookDelivery.objects.get(event="customer.merged")
    assert delivery.payload["id"] == survivor.pk and delivery.payload["merged_id"] == other.pk
    entry = AuditLogEntry.objects.filter(changes__has_key="merged_from").get()
    assert entry.actor == supervisor
    assert entry.additional_data == {"path": "api_token"}


def test_merge_endpoint_bad_input(
    pair: tuple[Customer, Customer], client_for: ClientFor, supervisor: User
) -> None:
    survivor, _other = pair
    client = client_for(supervisor)
    url = f"/api/v1/customers/{survivor.pk}/merge/"

    missing = client.post(url, {"other": 999999}, format="json")
    itself = client.post(url, {"other": survivor.pk}, format="json")
    empty = client.post(url, {}, format="json")
    unknown = client.post("/api/v1/customers/999999/merge/", {"other": survivor.pk}, format="json")

    assert missing.status_code == itself.status_code == empty.status_code == 400
    assert "other" in missing.json() and "other" in itself.json() and "other" in empty.json()
    assert unknown.status_code == 404
    assert Customer.objects.count() == 2


def test_merge_endpoint_needs_the_merge_permission(
    pair: tuple[Customer, Customer], client_for: ClientFor, operator: User
) -> None:
    survivor, other = pair

    response = client_for(operator).post(
        f"/api/v1/customers/{survivor.pk}/merge/", {"other": other.pk}, format="json"
    )

    assert response.status_code == 403
    assert Customer.objects.filter(pk=other.pk).exists()
