"""The tickets admin: named state changes as actions, the form through the services, search,
and who may change SLA policies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib import messages
from django.test import Client
from django.utils import timezone

from accounts.models import User
from customers.models import Customer
from metrics.models import MetricSnapshot
from tests.admin_fixtures import (
    FEW,
    MANY,
    admin_search,
    admin_url,
    count_change_page_queries,
    form_data,
    form_errors,
)
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    SLAPolicyFactory,
    TicketFactory,
    TicketMessageFactory,
    UserFactory,
)
from tickets.models import (
    Priority,
    SLAPolicy,
    Status,
    Ticket,
    TicketContact,
    TicketEvent,
    TicketMessage,
)

pytestmark = pytest.mark.django_db


def test_ticket_page_queries_do_not_grow_with_conversation(
    admin_client_: Client, django_assert_max_num_queries: Any
) -> None:
    ticket = TicketFactory.create()
    url = admin_url(Ticket, "change", ticket.pk)

    def add_conversation(n: int) -> None:
        for _ in range(n):
            TicketMessageFactory.create(
                ticket=ticket,
                author_kind=TicketMessage.Author.OPERATOR,
                author_user=UserFactory.create(),
            )
            TicketEvent.objects.create(
                ticket=ticket, kind=TicketEvent.Kind.ASSIGNED, actor=UserFactory.create()
            )
            interaction = InteractionFactory.create(customer=ticket.customer)
            TicketContact.objects.create(ticket=ticket, interaction=interaction)

    add_conversation(FEW)
    few, _response = count_change_page_queries(admin_client_, url, django_assert_max_num_queries)
    add_conversation(MANY - FEW)
    many, response = count_change_page_queries(admin_client_, url, django_assert_max_num_queries)

    assert many == few
    counts = {
        inline.formset.model: len(inline.formset.forms)
        for inline in response.context["inline_admin_formsets"]
    }
    assert counts == {TicketMessage: MANY, TicketEvent: MANY, TicketContact: MANY}


def _resolved_ticket() -> Ticket:
    now = timezone.now()
    return TicketFactory.create(
        status=Status.RESOLVED, created_at=now - dt.timedelta(hours=1), resolved_at=now
    )


def _run_action(client: Client, action: str, *tickets: Ticket) -> list[Any]:
    response = client.post(
        admin_url(Ticket, "changelist"),
        {"action": action, "_selected_action": [t.pk for t in tickets]},
        follow=True,
    )
    assert response.status_code == 200
    return list(response.context["messages"])


def test_resolve_action_resolves_an_open_ticket_and_records_who_did_it(
    admin_client_: Client, admin_user: User
) -> None:
    ticket = TicketFactory.create(status=Status.OPEN)
    notes = _run_action(admin_client_, "mark_resolved", ticket)

    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert ticket.resolved_at is not None
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.STATUS)
    assert (event.from_value, event.to_value, event.actor) == ("open", "resolved", admin_user)
    assert [n.level for n in notes] == [messages.SUCCESS]


def test_illegal_move_leaves_the_ticket_and_warns_while_moving_the_others(
    admin_client_: Client,
) -> None:
    new = TicketFactory.create()
    resolved = _resolved_ticket()
    notes = _run_action(admin_client_, "close", new, resolved)

    new.refresh_from_db()
    resolved.refresh_from_db()
    assert new.status == Status.NEW
    assert resolved.status == Status.CLOSED
    assert not TicketEvent.objects.filter(ticket=new).exists()
    (warning,) = [n for n in notes if n.level == messages.WARNING]
    assert f"#{new.pk}" in warning.message
    assert f"#{resolved.pk}" not in warning.message
    assert "cannot go from “New” to “Closed”" in warning.message


def test_reopen_counts_a_reopen_and_refuses_a_ticket_that_is_not_resolved(
    admin_client_: Client,
) -> None:
    resolved = _resolved_ticket()
    pending = TicketFactory.create(status=Status.PENDING)
    notes = _run_action(admin_client_, "reopen", resolved, pending)

    resolved.refresh_from_db()
    pending.refresh_from_db()
    assert (resolved.status, resolved.reopened_count, resolved.resolved_at) == ("open", 1, None)
    assert pending.status == Status.PENDING
    assert any(n.level == messages.WARNING and f"#{pending.pk}" in n.message for n in notes)


def test_status_is_not_editable_on_the_ticket_form(admin_client_: Client) -> None:
    ticket = TicketFactory.create(status=Status.OPEN)
    url = admin_url(Ticket, "change", ticket.pk)
    response = admin_client_.get(url)
    form = response.context["adminform"].form
    assert "status" not in form.fields
    assert "resolved_at" not in form.fields

    data = form_data(response)
    data.update({"status": Status.CLOSED, "subject": "Renamed"})
    response = admin_client_.post(url, data)
    assert response.status_code == 302, form_errors(response)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.subject) == (Status.OPEN, "Renamed")


def test_new_ticket_opens_through_the_service_in_the_chosen_status(
    admin_client_: Client, admin_user: User
) -> None:
    SLAPolicyFactory.create(
        priority=Priority.HIGH, first_response_minutes=30, resolution_minutes=240
    )
    customer = CustomerFactory.create()
    url = admin_url(Ticket, "add")
    response = admin_client_.get(url)
    status_field = response.context["adminform"].form.fields["status"]
    assert [value for value, _label in status_field.choices] == ["new", "open", "pending"]

    data = form_data(response)
    data.update(
        {
            "customer": customer.pk,
            "subject": "Broken screen",
            "channel": "phone",
            "status": Status.OPEN,
            "priority": Priority.HIGH,
            "messages-TOTAL_FORMS": 1,
            "messages-0-author_kind": "operator",
            "messages-0-body": "The screen is cracked.",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302, form_errors(response)

    ticket = Ticket.objects.get(subject="Broken screen")
    assert ticket.status == Status.OPEN
    assert ticket.resolution_due_at == ticket.created_at + dt.timedelta(minutes=240)
    created = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED)
    assert created.actor == admin_user
    assert list(ticket.messages.values_list("body", flat=True)) == ["The screen is cracked."]


def test_operator_reply_in_the_conversation_is_the_first_response(
    admin_client_: Client, admin_user: User
) -> None:
    ticket = TicketFactory.create(status=Status.OPEN)
    TicketMessageFactory.create(ticket=ticket)
    url = admin_url(Ticket, "change", ticket.pk)
    data = form_data(admin_client_.get(url))
    data.update(
        {
            "messages-TOTAL_FORMS": 2,
            "messages-1-author_kind": "operator",
            "messages-1-body": "We are sending a courier.",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302, form_errors(response)

    ticket.refresh_from_db()
    reply = ticket.messages.get(author_kind="operator")
    assert reply.author_user == admin_user
    assert ticket.first_response_at == reply.created_at
    assert ticket.messages.count() == 2


def test_changing_assignee_and_priority_on_the_form_records_both_and_moves_the_sla(
    admin_client_: Client, admin_user: User, operator: User
) -> None:
    SLAPolicyFactory.create(
        priority=Priority.URGENT, first_response_minutes=15, resolution_minutes=90
    )
    ticket = TicketFactory.create(status=Status.OPEN)
    url = admin_url(Ticket, "change", ticket.pk)
    data = form_data(admin_client_.get(url))
    data.update({"assignee": operator.pk, "priority": Priority.URGENT})

    response = admin_client_.post(url, data)

    assert response.status_code == 302, form_errors(response)
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.priority) == (operator, Priority.URGENT)
    assert ticket.resolution_due_at == ticket.created_at + dt.timedelta(minutes=90)
    kinds = set(ticket.events.filter(actor=admin_user).values_list("kind", flat=True))
    assert kinds == {TicketEvent.Kind.ASSIGNED, TicketEvent.Kind.PRIORITY}


@pytest.mark.parametrize("term", ["#{pk}", "{pk}", " #{pk} "])
def test_ticket_search_finds_a_ticket_by_its_number(admin_client_: Client, term: str) -> None:
    # Subjects without digits: a bare number also matches subjects that contain it.
    TicketFactory.create_batch(3, subject="Noise in the line")
    ticket = TicketFactory.create(subject="Printer jam")
    assert admin_search(admin_client_, Ticket, term.format(pk=ticket.pk)) == [ticket]


def test_ticket_search_by_customer_external_id_and_subject(admin_client_: Client) -> None:
    mine = TicketFactory.create(
        subject="Printer jam", customer=CustomerFactory.create(external_id="C-42")
    )
    TicketFactory.create(subject="Slow delivery")
    assert admin_search(admin_client_, Ticket, "C-42") == [mine]
    assert admin_search(admin_client_, Ticket, "printer") == [mine]
    assert admin_search(admin_client_, Ticket, "#99999999999999999999999") == []


def test_operator_sees_customers_but_may_not_add_an_sla_policy(
    client: Client, operator: User
) -> None:
    CustomerFactory.create()
    client.force_login(operator)
    assert client.get(admin_url(Customer, "changelist")).status_code == 200
    assert client.get(admin_url(SLAPolicy, "changelist")).status_code == 200
    assert client.get(admin_url(SLAPolicy, "add")).status_code == 403
    assert client.get(admin_url(MetricSnapshot, "changelist")).status_code == 403


def test_supervisor_may_add_an_sla_policy(client: Client, supervisor: User) -> None:
    client.force_login(supervisor)
    assert client.get(admin_url(SLAPolicy, "add")).status_code == 200
