"""A ticket's row on the card and in its list: number, subject, last message, status, SLA cell."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.models import Customer
from tests.factories import CustomerFactory, SLAPolicyFactory
from tickets.models import Status, Ticket, TicketMessage
from tickets.services import add_message, change_ticket_status, open_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db: None) -> Customer:
    return CustomerFactory.create()


def cell_of(client: Client, operator: User, ticket: Ticket) -> str:
    """The SLA cell of the ticket's row, as text with its badge class."""
    client.force_login(operator)
    html = client.get(reverse("customers:card", args=[ticket.customer_id])).content.decode()
    row = re.search(rf'<tr class="ticket-row">.*?#{ticket.pk}</a>.*?</tr>', html, re.S)
    assert row is not None
    cell = re.findall(r'<td class="nowrap">(.*?)</td>', row.group(0), re.S)[-1]
    return " ".join(re.sub(r"<span class=\"badge (\w+)\">", r"[\1] ", cell).split())


def shown(moment: dt.datetime | None) -> str:
    """A due time as the card prints it to an English operator in the site's zone."""
    assert moment is not None
    return timezone.localtime(moment).strftime("%m/%d/%Y")


def test_an_unanswered_ticket_shows_when_the_first_reply_is_due(
    client: Client, operator: User, customer: Customer
) -> None:
    SLAPolicyFactory.create(first_response_minutes=60, resolution_minutes=480)
    ticket = open_ticket(customer=customer, subject="Noise", channel="phone")

    cell = cell_of(client, operator, ticket)

    assert cell.startswith("[ok] on time</span>")
    assert f"reply by {shown(ticket.first_response_due_at)}" in cell


def test_a_late_first_reply_is_breached_and_still_shows_its_due_time(
    client: Client, operator: User, customer: Customer
) -> None:
    SLAPolicyFactory.create(first_response_minutes=60, resolution_minutes=480)
    ticket = open_ticket(
        customer=customer,
        subject="Noise",
        channel="phone",
        created_at=timezone.now() - dt.timedelta(hours=3),
    )

    cell = cell_of(client, operator, ticket)

    assert cell.startswith("[bad] SLA breached</span>") and "reply by" in cell


def answered_ticket(customer: Customer, operator: User) -> Ticket:
    """A ticket under a one-hour / eight-hour SLA that an operator has answered."""
    SLAPolicyFactory.create(first_response_minutes=60, resolution_minutes=480)
    ticket = open_ticket(customer=customer, subject="Noise", channel="phone")
    add_message(
        ticket=ticket,
        body="We are on it.",
        author_kind=TicketMessage.Author.OPERATOR,
        author_user=operator,
    )
    ticket.refresh_from_db()
    return ticket


def test_an_answered_ticket_shows_when_it_must_be_resolved(
    client: Client, operator: User, customer: Customer
) -> None:
    ticket = answered_ticket(customer, operator)

    cell = cell_of(client, operator, ticket)

    assert "reply by" not in cell
    assert f"resolve by {shown(ticket.resolution_due_at)}" in cell


def test_a_ticket_resolved_in_time_shows_met_and_nothing_due(
    client: Client, operator: User, customer: Customer
) -> None:
    ticket = answered_ticket(customer, operator)
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, actor=operator)

    cell = cell_of(client, operator, ticket)

    assert cell == "[ok] SLA met</span>"


def test_a_ticket_without_a_policy_says_so_in_the_operators_language(
    client: Client, operator: User, customer: Customer
) -> None:
    ticket = open_ticket(customer=customer, subject="Noise", channel="phone")
    english = cell_of(client, operator, ticket)
    operator.language = "ru"
    operator.save()

    russian = cell_of(client, operator, ticket)

    assert english == '<span class="muted small">no SLA</span>'
    assert russian == '<span class="muted small">без SLA</span>'


def test_the_russian_operator_reads_the_badge_and_due_line_in_russian(
    client: Client, operator: User, customer: Customer
) -> None:
    SLAPolicyFactory.create(first_response_minutes=60, resolution_minutes=480)
    ticket = open_ticket(customer=customer, subject="Noise", channel="phone")
    operator.language = "ru"
    operator.save()

    cell = cell_of(client, operator, ticket)

    due = timezone.localtime(ticket.first_response_due_at).strftime("%d.%m.%Y %H:%M")
    assert "ответить до " + due in cell


def row_of(client: Client, operator: User, ticket: Ticket, *, page: str = "customers:card") -> str:
    client.force_login(operator)
    html = client.get(reverse(page, args=[ticket.customer_id])).content.decode()
    row = re.search(rf'<tr class="ticket-row">.*?#{ticket.pk}</a>.*?</tr>', html, re.S)
    assert row is not None
    return row.group(0)


def test_a_row_shows_the_last_public_message_its_author_and_a_flagged_priority(
    client: Client, operator: User, customer: Customer
) -> None:
    ticket = open_ticket(
        customer=customer,
        subject="<Screen> flickers",
        channel="phone",
        body="It flickers. " * 20,
        priority="urgent",
    )
    add_message(
        ticket=ticket,
        body="Internal: check firmware",
        author_kind="operator",
        author_user=operator,
        is_internal=True,
    )

    row = row_of(client, operator, ticket)

    assert f'<a href="{reverse("tickets:detail", args=[ticket.pk])}">#{ticket.pk}</a>' in row
    assert "<strong>&lt;Screen&gt; flickers</strong>" in row
    assert "Customer, " in row and "firmware" not in row
    shown = re.search(r"Customer, .*?: (It flickers.*?)</div>", row, re.S)
    assert shown is not None and len(shown.group(1)) == 110 and shown.group(1).endswith("…")
    assert '<span class="badge">New</span> <span class="badge bad">Urgent</span>' in row


def test_a_row_in_russian_on_the_customers_ticket_list(
    client: Client, operator: User, customer: Customer
) -> None:
    ticket = open_ticket(customer=customer, subject="Шумит", channel="phone", body="Гудит.")
    add_message(ticket=ticket, body="Проверим.", author_kind="operator", author_user=operator)
    operator.language = "ru"
    operator.save()

    row = row_of(client, operator, ticket, page="ticket_card:list")

    assert "Оператор, " in row and "Проверим." in row
    assert "badge bad" not in row  # a normal priority is not flagged


@pytest.mark.postgres
def test_a_customers_open_tickets_are_read_in_order_from_the_open_tickets_index(
    customer: Customer,
) -> None:
    """The card's open tickets come from `ticket_customer_open_idx` in their order, without
    reading the customer's other tickets or sorting: its condition is the open statuses
    the list asks for (tickets.models.ACTIVE_STATUSES), so PostgreSQL can use it."""
    from django.db import connection

    from tickets.models import ACTIVE_STATUSES
    from tickets.selectors import _open_tickets

    index = next(i for i in Ticket._meta.indexes if i.name == "ticket_customer_open_idx")
    assert index.condition is not None
    assert sorted(dict(index.condition.children)["status__in"]) == sorted(ACTIVE_STATUSES)
    for number in range(30):
        Ticket.objects.create(
            customer=customer,
            subject=f"#{number}",
            channel="email",
            status=ACTIVE_STATUSES[number % len(ACTIVE_STATUSES)],
        )
    with connection.cursor() as cursor:
        # Only the choice between indexes is left to the planner (a test's few rows would
        # otherwise be read whole and sorted, as they are cheapest so).
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        plan = _open_tickets(customer.pk)[:5].explain()
    tickets = plan.split("SubPlan")[0]  # (the subplans read each row's last message)
    assert "ticket_customer_open_idx" in tickets and "Sort" not in tickets, plan
