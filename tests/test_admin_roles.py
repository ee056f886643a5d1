"""What each role sees and changes in the admin: only what its job needs.

Operators and supervisors neither add nor change purchases (they feed CLV and the metrics),
staff never write a message as the customer, invitation tokens stay hidden from staff, and the
privacy role exports and erases from the customers' list.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Customer, DataExportRecord, Purchase
from tests.factories import (
    CustomerFactory,
    PurchaseFactory,
    SurveyInvitationFactory,
    TicketFactory,
    TicketMessageFactory,
)
from tickets.models import TicketMessage

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("persona", ["operator", "supervisor"])
def test_staff_roles_neither_add_nor_change_purchases_in_the_admin(
    persona: str, request: pytest.FixtureRequest
) -> None:
    purchase = PurchaseFactory.create()
    client = _client(request.getfixturevalue(persona))

    listed = client.get(reverse("admin:customers_purchase_changelist"))
    add = client.get(reverse("admin:customers_purchase_add"))
    change = client.post(
        reverse("admin:customers_purchase_change", args=[purchase.pk]), {"amount": "1.00"}
    )

    assert listed.status_code == 200  # they read purchases on the card and in the admin
    assert add.status_code == 403
    assert change.status_code == 403
    assert Purchase.objects.get(pk=purchase.pk).amount == purchase.amount


def test_the_admin_role_still_adds_purchases(admin_user: User) -> None:
    response = _client(admin_user).get(reverse("admin:customers_purchase_add"))

    assert response.status_code == 200


@pytest.mark.parametrize("persona", ["operator", "supervisor", "admin_user"])
def test_no_one_adds_a_customer_authored_message_in_the_admin(
    persona: str, request: pytest.FixtureRequest
) -> None:
    ticket = TicketFactory.create()
    client = _client(request.getfixturevalue(persona))
    url = reverse("admin:tickets_ticketmessage_add")

    form = client.get(url).context["adminform"].form
    response = client.post(
        url, {"ticket": ticket.pk, "author_kind": "customer", "body": "Forged", "channel": ""}
    )

    assert [value for value, _label in form.fields["author_kind"].choices] == [
        "operator",
        "system",
    ]
    assert response.status_code == 200  # the form again, with the error
    assert "author_kind" in response.context["adminform"].form.errors
    assert not TicketMessage.objects.filter(body="Forged").exists()


def test_an_operator_adds_an_operator_message_in_the_admin(operator: User) -> None:
    ticket = TicketFactory.create()
    response = _client(operator).post(
        reverse("admin:tickets_ticketmessage_add"),
        {"ticket": ticket.pk, "author_kind": "operator", "body": "On it", "channel": ""},
    )

    assert response.status_code == 302
    message = TicketMessage.objects.get(body="On it")
    assert (message.author_kind, message.author_user) == ("operator", operator)


def test_who_wrote_a_message_cannot_be_changed_in_the_admin(admin_user: User) -> None:
    message = TicketMessageFactory.create(author_kind=TicketMessage.Author.OPERATOR)
    url = reverse("admin:tickets_ticketmessage_change", args=[message.pk])

    form = _client(admin_user).get(url).context["adminform"].form

    assert "author_kind" not in form.fields
    assert "author_user" not in form.fields


@pytest.mark.parametrize("persona", ["operator", "supervisor"])
def test_staff_do_not_see_invitation_tokens_in_the_admin(
    persona: str, request: pytest.FixtureRequest
) -> None:
    invitation = SurveyInvitationFactory.create()
    client = _client(request.getfixturevalue(persona))

    page = client.get(reverse("admin:surveys_surveyinvitation_change", args=[invitation.pk]))
    search = client.get(
        reverse("admin:surveys_surveyinvitation_changelist"), {"q": invitation.token}
    )

    assert page.status_code == 200
    assert invitation.token not in page.content.decode()
    assert search.context["cl"].result_count == 0  # a token cannot be confirmed by searching


# --- The privacy role's admin actions ---------------------------------------------------------


def _run_action(client: Client, action: str, *customers: Customer) -> Any:
    return client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": action, "_selected_action": [c.pk for c in customers]},
    )


def _actions(client: Client) -> set[str]:
    response = client.get(reverse("admin:customers_customer_changelist"))
    return {name for name, _label in response.context["action_form"].fields["action"].choices}


def test_the_privacy_officer_exports_from_the_admin_and_the_export_is_recorded(
    privacy_officer: User,
) -> None:
    customer = CustomerFactory.create(full_name="Anna Exportova")
    client = _client(privacy_officer)

    response = _run_action(client, "export_personal_data", customer)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert json.loads(response.content)["customer"]["full_name"] == "Anna Exportova"
    record = DataExportRecord.objects.get()
    assert (record.customer, record.actor, record.path) == (customer, privacy_officer, "admin")


def test_the_privacy_officer_erases_from_the_admin(privacy_officer: User) -> None:
    customer = CustomerFactory.create(full_name="Anna Erasova")

    response = _run_action(_client(privacy_officer), "erase_personal_data", customer)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.anonymised_at is not None
    assert "Erasova" not in customer.full_name


@pytest.mark.parametrize("persona", ["operator", "supervisor"])
def test_other_roles_neither_see_nor_run_the_privacy_actions(
    persona: str, request: pytest.FixtureRequest
) -> None:
    customer = CustomerFactory.create(full_name="Anna Keptova")
    client = _client(request.getfixturevalue(persona))

    offered = _actions(client)
    _run_action(client, "export_personal_data", customer)
    _run_action(client, "erase_personal_data", customer)

    assert not offered & {"export_personal_data", "erase_personal_data"}
    assert not DataExportRecord.objects.exists()
    assert Customer.objects.get(pk=customer.pk).anonymised_at is None
