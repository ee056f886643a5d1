"""The customers' tallies (`customers.tallies`) equal the counts of their rows after every way
an interaction or a purchase is written, and the card reads them instead of counting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from customers import selectors, tallies
from customers.merge import merge_customers
from customers.models import Customer, CustomerTally, Interaction, Purchase
from customers.purchases import write_purchases
from customers.services import add_note, log_interaction, record_call_interaction
from customers.signals import instance_rows, send_rows_written
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    PurchaseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _assert_tallies_true() -> None:
    for customer_id in Customer.objects.values_list("pk", flat=True):
        tally = CustomerTally.objects.filter(customer_id=customer_id).first()
        kept = (tally.interactions, tally.purchases) if tally else (0, 0)
        counted = (
            Interaction.objects.filter(customer_id=customer_id).count(),
            Purchase.objects.filter(customer_id=customer_id).count(),
        )
        assert kept == counted, customer_id


def test_every_way_of_writing_an_interaction_keeps_the_tally(admin_user: User) -> None:
    anna, boris = CustomerFactory.create(), CustomerFactory.create()
    operator = UserFactory.create()
    log_interaction(
        customer=anna, actor=operator, channel="phone", direction="inbound", summary="Asked"
    )
    add_note(customer=anna, actor=operator, text="Prefers mornings")
    InteractionFactory.create(customer=anna)
    _assert_tallies_true()
    assert CustomerTally.objects.get(customer=anna).interactions == 3

    # A call: created, brought up to date by one UPDATE, then linked to someone else.
    started = timezone.now() - dt.timedelta(minutes=3)
    common: dict[str, Any] = {
        "call_id": "pbx-1",
        "direction": "inbound",
        "started_at": started,
        "answered_at": None,
        "ended_at": None,
        "operator_id": None,
        "contact_address": "+79990000000",
    }
    call = record_call_interaction(customer_id=anna.pk, **common)
    _assert_tallies_true()
    record_call_interaction(
        customer_id=anna.pk, **{**common, "ended_at": started}, interaction_id=call
    )
    _assert_tallies_true()
    record_call_interaction(customer_id=boris.pk, **common, interaction_id=call)
    _assert_tallies_true()
    assert CustomerTally.objects.get(customer=boris).interactions == 1
    # An unknown caller's call, linked to a customer once someone says who called.
    unknown = record_call_interaction(customer_id=None, **{**common, "call_id": "pbx-2"})
    record_call_interaction(
        customer_id=boris.pk, **{**common, "call_id": "pbx-2"}, interaction_id=unknown
    )
    _assert_tallies_true()
    assert CustomerTally.objects.get(customer=boris).interactions == 2

    # Moved by a save of a loaded row (the admin's change form), deleted, written in bulk.
    moved = Interaction.objects.filter(customer=anna).first()
    assert moved is not None
    moved.customer = boris
    moved.save()
    _assert_tallies_true()
    Interaction.objects.filter(customer=boris).first().delete()  # type: ignore[union-attr]
    _assert_tallies_true()
    rows = Interaction.objects.bulk_create(
        InteractionFactory.build(customer=boris, external_id=f"bulk-{i}") for i in range(5)
    )
    send_rows_written(Interaction, instance_rows(rows))
    _assert_tallies_true()

    merge_customers(survivor=anna, other=boris, actor=admin_user)
    _assert_tallies_true()
    assert not CustomerTally.objects.filter(customer_id=boris.pk).exists()


def test_the_api_keeps_the_tally(client: object, admin_user: User) -> None:
    from rest_framework.test import APIClient

    customer = CustomerFactory.create()
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "email",
            "direction": "inbound",
            "summary": "Wrote in",
            "started_at": timezone.now().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert CustomerTally.objects.get(customer=customer).interactions == 1


def test_purchase_writes_keep_the_purchase_tally() -> None:
    customer = CustomerFactory.create()
    purchase = PurchaseFactory.create(customer=customer)
    write_purchases(
        purchases=[Purchase(customer=customer, amount=Decimal("5.00")) for _ in range(3)]
    )
    purchase.status = Purchase.Status.REFUNDED  # still a line of the history
    purchase.save()
    _assert_tallies_true()
    assert CustomerTally.objects.get(customer=customer).purchases == 4
    purchase.delete()
    _assert_tallies_true()


def test_an_update_that_stays_with_its_customer_writes_no_tally(
    django_assert_num_queries: Any,
) -> None:
    interaction = InteractionFactory.create()
    interaction.summary = "Called back"
    with django_assert_num_queries(1):  # the UPDATE alone
        interaction.save(update_fields=["summary"])
    loaded = Interaction.objects.get(pk=interaction.pk)
    loaded.summary = "Called back twice"
    with django_assert_num_queries(1):
        loaded.save(update_fields=["summary"])


def test_a_recount_mends_a_tally_written_wrong_behind_djangos_back() -> None:
    customer = CustomerFactory.create()
    InteractionFactory.create_batch(2, customer=customer)
    CustomerTally.objects.filter(customer=customer).update(interactions=40)
    InteractionFactory.create(customer=customer)
    assert CustomerTally.objects.get(customer=customer).interactions == 3
    CustomerTally.objects.filter(customer=customer).update(interactions=40)
    tallies.recount_all("interactions")
    assert CustomerTally.objects.get(customer=customer).interactions == 3


def test_the_timeline_and_the_purchases_read_the_tally_not_a_count() -> None:
    customer = CustomerFactory.create()
    InteractionFactory.create_batch(12, customer=customer)
    write_purchases(
        purchases=[Purchase(customer=customer, amount=Decimal("5.00")) for _ in range(8)]
    )
    with CaptureQueriesContext(connection) as queries:
        page = selectors.timeline_page(customer.pk, offset=0, limit=10)
        _expiring, latest, count = selectors.card_purchases(
            customer.pk, today=timezone.localdate(), expiring=5, latest=6
        )
    assert (page.count, len(page.items), page.next_offset) == (12, 10, 10)
    assert (count, len(latest)) == (8, 6)
    counting = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counting == []
    assert sum(CustomerTally._meta.db_table in q["sql"] for q in queries) == 2


def test_a_bulk_write_of_many_customers_is_recounted_in_batches() -> None:
    people = CustomerFactory.create_batch(tallies.RECOUNT_BATCH + 3)
    rows = Interaction.objects.bulk_create(
        InteractionFactory.build(customer=person, external_id=f"many-{person.pk}")
        for person in people
    )
    send_rows_written(Interaction, instance_rows(rows))
    assert CustomerTally.objects.filter(interactions=1).count() == len(people)
