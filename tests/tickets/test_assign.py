"""Whoever assigns a ticket (the page, the admin, the API, a script), the assignee must be
active staff allowed to work tickets."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import User
from accounts.roles import OPERATORS
from tests.factories import TicketFactory, UserFactory
from tickets.models import Ticket
from tickets.services import assign_ticket

pytestmark = pytest.mark.django_db


def test_the_service_refuses_an_assignee_without_an_operator_role(operator: User) -> None:
    ticket = TicketFactory.create()
    visitor = UserFactory.create(username="visitor")

    with pytest.raises(ValidationError) as refused:
        assign_ticket(ticket=ticket, assignee=visitor, actor=operator)

    assert "assignee" in refused.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_the_ticket_page_answers_a_form_error_for_such_an_assignee(operator: User) -> None:
    ticket = TicketFactory.create()
    visitor = UserFactory.create(username="visitor")
    browser = Client()
    browser.force_login(operator)

    response = browser.post(f"/tickets/{ticket.pk}/assign/", {"assignee": visitor.pk})

    assert response.status_code == 400
    assert "may work tickets" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_the_admin_answers_a_form_error_for_such_an_assignee(admin_user: User) -> None:
    ticket = TicketFactory.create()
    visitor = UserFactory.create(username="visitor")
    colleague = UserFactory.create(username="petr", groups=[OPERATORS])
    browser = Client()
    browser.force_login(admin_user)
    url = f"/admin/tickets/ticket/{ticket.pk}/change/"
    form = {
        "customer": ticket.customer_id,
        "subject": ticket.subject,
        "channel": ticket.channel,
        "status": ticket.status,
        "priority": ticket.priority,
        "team": "",
        "purchase": "",
        "external_id": "",
        "customer_contacts": 1,
    }
    for prefix in ("messages", "events", "contacts"):
        form |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}

    refused = browser.post(url, {**form, "assignee": visitor.pk})
    accepted = browser.post(url, {**form, "assignee": colleague.pk})

    assert refused.status_code == 200
    assert "may work tickets" in refused.content.decode()
    assert accepted.status_code == 302, accepted.content.decode()[-2000:]
    assert Ticket.objects.get(pk=ticket.pk).assignee == colleague
