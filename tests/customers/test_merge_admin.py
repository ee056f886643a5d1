"""Merging from the admin: the action on two selected customers and the duplicates review page."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry as AuditLogEntry
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Customer, CustomerAlias
from tests.factories import CustomerFactory, PhoneFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:customers_customer_changelist"
DUPLICATES = "admin:customers_customer_duplicates"


def logged_in(client: Client, user: User) -> Client:
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def test_admin_action_merges_two_selected_customers(client: Client, supervisor: User) -> None:
    first, second = CustomerFactory.create_batch(2)
    PhoneFactory.create(customer=second)

    response = logged_in(client, supervisor).post(
        reverse(CHANGELIST),
        {"action": "merge_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert not Customer.objects.filter(pk=second.pk).exists()
    assert first.contact_points.count() == 1
    assert CustomerAlias.objects.get().merged_customer_id == second.pk
    entry = AuditLogEntry.objects.filter(changes__has_key="merged_from").get()
    assert entry.additional_data == {"path": "admin"} and entry.actor == supervisor


def test_admin_action_refuses_anything_but_two(client: Client, supervisor: User) -> None:
    customers = CustomerFactory.create_batch(3)

    response = logged_in(client, supervisor).post(
        reverse(CHANGELIST),
        {"action": "merge_selected", "_selected_action": [c.pk for c in customers]},
        follow=True,
    )

    assert "Select exactly two customers to merge." in response.content.decode()
    assert Customer.objects.count() == 3


def test_duplicates_page_lists_pairs_and_merges_one(client: Client, supervisor: User) -> None:
    first, second = CustomerFactory.create_batch(2)
    PhoneFactory.create(customer=first, value="+79120000001")
    PhoneFactory.create(customer=second, value="8 912 000 00 01")
    client = logged_in(client, supervisor)

    page = client.get(reverse(DUPLICATES))
    merged = client.post(reverse(DUPLICATES), {"survivor": first.pk, "other": second.pk})

    assert page.status_code == 200
    assert str(second) in page.content.decode()
    assert merged.status_code == 302
    assert list(Customer.objects.values_list("pk", flat=True)) == [first.pk]


def test_operators_cannot_merge_in_the_admin(client: Client, operator: User) -> None:
    first, second = CustomerFactory.create_batch(2)
    client = logged_in(client, operator)

    page = client.get(reverse(DUPLICATES))
    action = client.post(
        reverse(CHANGELIST),
        {"action": "merge_selected", "_selected_action": [first.pk, second.pk]},
    )
    post = client.post(reverse(DUPLICATES), {"survivor": first.pk, "other": second.pk})

    assert page.status_code == post.status_code == 403
    assert action.status_code in (200, 302)
    assert Customer.objects.count() == 2


def test_customer_audit_history_page_shows_the_changes(client: Client, admin_user: User) -> None:
    customer = CustomerFactory.create(full_name="Anna Ivanova")
    customer.full_name = "Anna Petrova"
    customer.save()

    response = logged_in(client, admin_user).get(
        reverse("admin:customers_customer_auditlog", args=[customer.pk])
    )

    assert response.status_code == 200
    assert "Anna Petrova" in response.content.decode()
