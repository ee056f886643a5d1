"""Audit history: who changed what, when, through which path, shown on the card and in the API."""

from __future__ import annotations

import datetime as dt

import pytest
from auditlog.models import LogEntry as AuditLogEntry
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts.models import User
from crm.jobs import JOBS, Job, run_job
from customers.models import Customer
from tests.api_fixtures import ClientFor
from tests.factories import CustomerFactory, PhoneFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db: None) -> Customer:
    return CustomerFactory.create(full_name="Anna Ivanova")


def test_a_contact_corrected_on_the_card_is_on_the_card_history(
    client: Client, operator: User, customer: Customer
) -> None:
    phone = PhoneFactory.create(customer=customer, value="+7 912 000-00-01")
    client.force_login(operator)

    client.post(
        reverse("customers:edit_contact", args=[customer.pk, phone.pk]),
        {"kind": "phone", "value": "+7 912 000-00-02", "is_primary": "on"},
        headers={"HX-Request": "true"},
    )
    html = client.get(reverse("customers:card", args=[customer.pk])).content.decode()

    entry = AuditLogEntry.objects.get_for_object(phone).first()
    assert entry is not None
    assert entry.actor == operator
    assert entry.additional_data == {"path": "ui"}
    assert 'id="section-history"' in html
    assert "changed value from “+7 912 000-00-01” to “+7 912 000-00-02”" in html
    assert "operator UI" in html


def test_a_change_through_an_api_token_names_the_token_path(
    client_for: ClientFor, operator: User, customer: Customer
) -> None:
    response = client_for(operator).patch(
        f"/api/v1/customers/{customer.pk}/", {"company": "Romashka"}, format="json"
    )
    card = client_for(operator).get(f"/api/v1/customers/{customer.pk}/card/").json()

    assert response.status_code == 200
    (entry,) = card["sections"]["history"]["entries"][:1]
    assert entry["actor"] in (operator.get_full_name(), operator.username)
    assert entry["path"] == "API token"
    assert {"field": "company", "old": "", "new": "Romashka"} in entry["changes"]


def test_a_job_and_code_outside_a_request_are_named(customer: Customer) -> None:
    def touch(*, on: dt.date) -> dict[str, int | str]:
        customer.lifecycle = Customer.Lifecycle.AT_RISK
        customer.save()
        return {"touched": 1}

    JOBS["h7_touch"] = Job(name="h7_touch", description="", function=touch)
    try:
        run_job("h7_touch")
    finally:
        del JOBS["h7_touch"]
    customer.company = "Romashka"
    customer.save()

    by_job, outside = AuditLogEntry.objects.get_for_object(customer).order_by("id")[1:]
    assert "lifecycle" in by_job.changes and by_job.additional_data == {"path": "job"}
    assert "company" in outside.changes and outside.additional_data == {"path": "system"}


def test_staff_users_and_roles_are_audited(client: Client, admin_user: User) -> None:
    client.force_login(admin_user)
    group = Group.objects.create(name="Privacy")
    operator = User.objects.create_user("masha")

    operator.groups.add(group)
    operator.first_name = "Maria"
    operator.save()

    user_entries = AuditLogEntry.objects.get_for_object(operator)
    assert user_entries.filter(changes__has_key="first_name").exists()
    assert user_entries.filter(changes__has_key="groups").exists()
    assert not user_entries.filter(changes__has_key="password").exists()
    assert AuditLogEntry.objects.get_for_object(group).exists()


def test_operators_without_the_history_permission_do_not_see_it(
    client: Client, customer: Customer
) -> None:
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)

    html = client.get(reverse("customers:card", args=[customer.pk])).content.decode()

    assert 'id="section-history"' not in html


def test_the_admin_shows_a_customers_audit_history_with_the_path(
    client: Client, client_for: ClientFor, operator: User, admin_user: User, customer: Customer
) -> None:
    client_for(operator).patch(
        f"/api/v1/customers/{customer.pk}/", {"company": "Romashka"}, format="json"
    )
    client.force_login(admin_user)

    listing = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    history = client.get(reverse("admin:customers_customer_auditlog", args=[customer.pk]))

    assert reverse("admin:customers_customer_auditlog", args=[customer.pk]) in listing
    assert history.status_code == 200
    html = history.content.decode()
    assert "Romashka" in html and operator.get_full_name() in html
    assert '<span class="entry-path">API token</span>' in html


def test_the_history_lines_read_in_the_operators_language(
    client: Client, operator: User, customer: Customer
) -> None:
    """A creation lists each field it set, a change its old and new value: in English and in
    the Russian of an operator who chose it, the values escaped as the rest of the page."""
    customer.company = "<b>Romashka</b>"
    customer.save()
    client.force_login(operator)

    english = client.get(reverse("customers:card", args=[customer.pk])).content.decode()
    operator.language = "ru"
    operator.save()
    russian = client.get(reverse("customers:card", args=[customer.pk])).content.decode()

    assert "set full name to “Anna Ivanova”" in english
    assert "changed company from “” to" not in english
    assert "set company to “&lt;b&gt;Romashka&lt;/b&gt;”" in english
    assert "установил(а) полное имя: «Anna Ivanova»" in russian  # noqa: RUF001
    assert "<b>Romashka</b>" not in russian


def test_a_creation_records_the_records_own_fields_not_other_models_relations_to_it(
    client: Client, operator: User
) -> None:
    """auditlog listed every reverse relation of a new customer ("set calls to
    telephony.Call.None", "set tickets to tickets.Ticket.None") and the card showed them."""
    client.force_login(operator)
    response = client.post(
        reverse("customers:new"),
        {"full_name": "Boris Petrov", "phone": "+7 912 000-00-03", "language": "ru"},
    )
    customer = Customer.objects.get(full_name="Boris Petrov")
    phone = customer.contact_points.get()

    created = AuditLogEntry.objects.get_for_object(customer).get()
    html = client.get(reverse("customers:card", args=[customer.pk])).content.decode()

    assert response.status_code == 302
    assert "full_name" in created.changes and "consent_reminders" in created.changes
    for relation in ("calls", "tickets", "purchases", "contact_points", "interactions"):
        assert relation not in created.changes
    phone_created = AuditLogEntry.objects.get_for_object(phone).get()
    assert "value" in phone_created.changes and "customer" in phone_created.changes
    assert "Call.None" not in html and "Ticket.None" not in html


def test_an_entry_written_with_relations_before_the_fix_shows_only_the_fields(
    client: Client, operator: User, customer: Customer
) -> None:
    entry = AuditLogEntry.objects.get_for_object(customer).get()
    entry.changes = {
        **entry.changes,
        "calls": ["None", "telephony.Call.None"],
        "tickets": ["None", "tickets.Ticket.None"],
    }
    entry.save()
    client.force_login(operator)

    html = client.get(reverse("customers:card", args=[customer.pk])).content.decode()

    assert "set full name to “Anna Ivanova”" in html
    assert "Call.None" not in html and "Ticket.None" not in html
