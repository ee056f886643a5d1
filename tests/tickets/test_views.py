"""The operator's ticket queue and ticket page: filters, actions, roles, query counts."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import CustomerFactory, PurchaseFactory, SLAPolicyFactory, UserFactory
from tickets.models import Priority, Status, Ticket, TicketEvent, TicketMessage
from tickets.services import add_message, change_ticket_status, open_ticket

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
QUEUE = reverse("tickets:queue")


def _ticket(subject: str = "Kettle leaks", **fields: Any) -> Ticket:
    fields.setdefault("created_at", T0)
    return open_ticket(
        customer=fields.pop("customer", None) or CustomerFactory.create(),
        subject=subject,
        channel=fields.pop("channel", "phone"),
        body="It leaks from the bottom.",
        **fields,
    )


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Queue --------------------------------------------------------------------------------


def test_the_queue_lists_active_tickets_by_default(operator: User) -> None:
    active = _ticket("Active one")
    done = _ticket("Done one")
    change_ticket_status(ticket=done, to_status=Status.RESOLVED)
    response = _client(operator).get(QUEUE)
    assert response.status_code == 200
    assert active.subject in response.text
    assert done.subject not in response.text


def test_mine_and_unassigned_filters(operator: User, other_team_operator: User) -> None:
    mine = _ticket("Olgas kettle", assignee=operator)
    theirs = _ticket("Ivans kettle", assignee=other_team_operator)
    nobodys = _ticket("Orphan kettle")
    client = _client(operator)
    text = client.get(QUEUE, {"mine": "true"}).text
    assert mine.subject in text and theirs.subject not in text and nobodys.subject not in text
    text = client.get(QUEUE, {"unassigned": "true"}).text
    assert nobodys.subject in text and mine.subject not in text


def test_search_finds_a_ticket_by_number_or_subject(operator: User) -> None:
    wanted = _ticket("Broken screen")
    other = _ticket("Late delivery")
    client = _client(operator)
    text = client.get(QUEUE, {"q": f"#{wanted.pk}"}).text
    assert wanted.subject in text and other.subject not in text
    text = client.get(QUEUE, {"q": "screen"}).text
    assert wanted.subject in text and other.subject not in text


def test_status_priority_channel_and_team_filters(operator: User) -> None:
    urgent = _ticket("Urgent email", priority=Priority.URGENT, channel="email", team=operator.team)
    low = _ticket("Low phone", priority=Priority.LOW)
    client = _client(operator)
    for params in (
        {"priority": "urgent"},
        {"channel": "email"},
        {"team": str(operator.team_id)},
        {"status": ["new"], "priority": "urgent"},
    ):
        text = client.get(QUEUE, params).text
        assert urgent.subject in text and low.subject not in text, params


def test_sla_filters_at_risk_and_breached(operator: User) -> None:
    SLAPolicyFactory.create(priority=Priority.NORMAL, first_response_minutes=60)
    breached = _ticket("Late kettle", created_at=T0)
    at_risk = _ticket("Hurry kettle", created_at=T0 + dt.timedelta(minutes=15))
    fresh = _ticket("Calm kettle", created_at=T0 + dt.timedelta(minutes=50))
    client = _client(operator)
    with mock.patch("django.utils.timezone.now", return_value=T0 + dt.timedelta(minutes=65)):
        text = client.get(QUEUE, {"sla": "breached"}).text
        assert breached.subject in text
        assert at_risk.subject not in text and fresh.subject not in text
        text = client.get(QUEUE, {"sla": "at_risk"}).text
        assert at_risk.subject in text
        assert breached.subject not in text and fresh.subject not in text


def test_sorting_by_priority_puts_urgent_first(operator: User) -> None:
    _ticket("Low one", priority=Priority.LOW)
    _ticket("Urgent one", priority=Priority.URGENT)
    _ticket("High one", priority=Priority.HIGH)
    text = _client(operator).get(QUEUE, {"sort": "priority"}).text
    assert text.index("Urgent one") < text.index("High one") < text.index("Low one")


def test_htmx_gets_only_the_results(operator: User) -> None:
    _ticket("Partial")
    response = _client(operator).get(QUEUE, {"q": "Partial"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Partial" in response.text
    assert "<html" not in response.text


def test_the_queue_pages(operator: User) -> None:
    for number in range(30):
        _ticket(f"Ticket {number:02d}")
    client = _client(operator)
    first = client.get(QUEUE, {"sort": "created"})
    second = client.get(QUEUE, {"sort": "created", "page": "2"})
    assert "Ticket 00" in first.text and "Ticket 29" not in first.text
    assert "Ticket 29" in second.text and "Ticket 00" not in second.text


@pytest.mark.parametrize(
    "params",
    [{"priority": "whenever"}, {"status": "lost"}, {"sla": "soon"}, {"created_after": "yesterday"}],
)
def test_bad_filters_are_a_400_with_the_reason(operator: User, params: dict[str, str]) -> None:
    response = _client(operator).get(QUEUE, params)
    assert response.status_code == 400
    assert 'class="errors"' in response.text


def test_the_queue_needs_a_login_and_the_ticket_role(integration: User) -> None:
    assert Client().get(QUEUE).status_code == 302
    assert _client(integration).get(QUEUE).status_code == 403


def test_the_queue_query_count_does_not_grow_with_tickets(
    operator: User, django_assert_max_num_queries: Any
) -> None:
    SLAPolicyFactory.create(priority=Priority.NORMAL)
    for number in range(20):
        _ticket(f"T{number}", assignee=operator, team=operator.team)
    client = _client(operator)
    client.get(QUEUE)  # warm the session
    with django_assert_max_num_queries(8):
        response = client.get(QUEUE)
    assert response.status_code == 200


# --- Ticket page --------------------------------------------------------------------------


def test_the_ticket_page_shows_the_conversation_and_distinguishes_notes(operator: User) -> None:
    purchase = PurchaseFactory.create()
    ticket = _ticket(customer=purchase.customer, purchase=purchase)
    add_message(
        ticket=ticket,
        body="Please send a photo.",
        author_kind=TicketMessage.Author.OPERATOR,
        author_user=operator,
    )
    add_message(
        ticket=ticket,
        body="Customer sounds upset.",
        author_kind=TicketMessage.Author.OPERATOR,
        author_user=operator,
        is_internal=True,
    )
    response = _client(operator).get(reverse("tickets:detail", args=[ticket.pk]))
    assert response.status_code == 200
    text = response.text
    assert "It leaks from the bottom." in text and "author-customer" in text
    assert "Please send a photo." in text and "author-operator" in text
    assert "message author-operator internal" in text
    assert "Warranty claim on" in text
    # Only the legal moves are offered.
    assert 'name="to_status" value="open"' in text
    assert 'name="to_status" value="closed"' not in text


def test_the_ticket_page_escapes_what_customers_write(operator: User) -> None:
    ticket = _ticket("<b>bold</b>")
    add_message(
        ticket=ticket, body="<script>alert(1)</script>", author_kind=TicketMessage.Author.CUSTOMER
    )
    text = _client(operator).get(reverse("tickets:detail", args=[ticket.pk])).text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_an_unknown_ticket_is_404(operator: User) -> None:
    assert _client(operator).get(reverse("tickets:detail", args=[999999])).status_code == 404


def test_the_ticket_page_query_count_is_bounded(
    operator: User, django_assert_max_num_queries: Any
) -> None:
    ticket = _ticket()
    for number in range(15):
        add_message(
            ticket=ticket,
            body=f"Reply {number}",
            author_kind=TicketMessage.Author.OPERATOR,
            author_user=operator,
        )
    client = _client(operator)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("tickets:detail", args=[ticket.pk])).status_code == 200


def test_a_reply_is_recorded_and_sets_the_first_response(operator: User) -> None:
    ticket = _ticket()
    response = _client(operator).post(
        reverse("tickets:reply", args=[ticket.pk]), {"body": "We will send a new one."}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    assert ticket.messages.filter(author_user=operator, is_internal=False).count() == 1


def test_an_internal_note_is_no_first_response(operator: User) -> None:
    ticket = _ticket()
    _client(operator).post(
        reverse("tickets:reply", args=[ticket.pk]), {"body": "Check stock", "is_internal": "on"}
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    assert ticket.messages.filter(is_internal=True).count() == 1


def test_an_empty_reply_is_a_form_error(operator: User) -> None:
    ticket = _ticket()
    response = _client(operator).post(reverse("tickets:reply", args=[ticket.pk]), {"body": "  "})
    assert response.status_code == 400
    assert "Write a message." in response.text
    assert ticket.messages.count() == 1


def test_status_buttons_move_the_ticket(operator: User) -> None:
    ticket = _ticket()
    client = _client(operator)
    response = client.post(reverse("tickets:status", args=[ticket.pk]), {"to_status": "resolved"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert TicketEvent.objects.filter(ticket=ticket, kind="status", actor=operator).exists()


@pytest.mark.parametrize("to_status", ["closed", "nonsense", ""])
def test_an_illegal_status_move_is_a_form_error_not_a_500(operator: User, to_status: str) -> None:
    ticket = _ticket()
    response = _client(operator).post(
        reverse("tickets:status", args=[ticket.pk]), {"to_status": to_status}
    )
    assert response.status_code == 400
    assert 'class="errorlist' in response.text
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_assigning_and_changing_priority(operator: User, other_team_operator: User) -> None:
    ticket = _ticket()
    client = _client(operator)
    response = client.post(
        reverse("tickets:assign", args=[ticket.pk]), {"assignee": other_team_operator.pk}
    )
    assert response.status_code == 302
    response = client.post(reverse("tickets:priority", args=[ticket.pk]), {"priority": "urgent"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == other_team_operator
    assert ticket.priority == Priority.URGENT


def test_bad_assignment_and_priority_are_form_errors(operator: User) -> None:
    ticket = _ticket()
    client = _client(operator)
    assert (
        client.post(reverse("tickets:assign", args=[ticket.pk]), {"assignee": 0}).status_code == 400
    )
    response = client.post(reverse("tickets:priority", args=[ticket.pk]), {"priority": "asap"})
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.priority == Priority.NORMAL and ticket.assignee is None


def test_actions_need_the_ticket_role(integration: User) -> None:
    ticket = _ticket()
    viewer = UserFactory.create(username="viewer")
    for user in (integration, viewer):
        client = _client(user)
        assert client.get(reverse("tickets:detail", args=[ticket.pk])).status_code == 403
        for name, data in (
            ("tickets:reply", {"body": "hi"}),
            ("tickets:status", {"to_status": "open"}),
            ("tickets:assign", {"assignee": ""}),
            ("tickets:priority", {"priority": "high"}),
        ):
            assert client.post(reverse(name, args=[ticket.pk]), data).status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.messages.count() == 1


def test_actions_refuse_get(operator: User) -> None:
    ticket = _ticket()
    assert _client(operator).get(reverse("tickets:status", args=[ticket.pk])).status_code == 405


def test_the_history_shows_translated_labels_and_full_names(
    operator: User, other_team_operator: User
) -> None:
    other_team_operator.first_name, other_team_operator.last_name = "Ivan", "Petrov"
    other_team_operator.save()
    ticket = _ticket()
    client = _client(operator)
    client.post(reverse("tickets:status", args=[ticket.pk]), {"to_status": "open"})
    client.post(reverse("tickets:priority", args=[ticket.pk]), {"priority": "urgent"})
    client.post(reverse("tickets:assign", args=[ticket.pk]), {"assignee": other_team_operator.pk})
    operator.language = "ru"
    operator.save()

    text = _client(operator).get(reverse("tickets:detail", args=[ticket.pk])).text

    history = text[text.index('class="history') :]
    assert "Новое → Открыто" in history
    assert "Обычный → Срочный" in history
    assert "→ Ivan Petrov" in history
    # The assignee by name, not by username (the author's generated name may contain "ivan").
    for code in ("new →", "→ open", "→ urgent", f"→ {other_team_operator.username}"):
        assert code not in history
