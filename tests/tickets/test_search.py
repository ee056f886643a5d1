"""The queue's search: any letter's case on both databases, and the customer's name."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import CustomerFactory
from tickets.filters import TicketFilter
from tickets.models import Ticket
from tickets.selectors import queue_tickets
from tickets.services import open_ticket

pytestmark = pytest.mark.django_db


def _ticket(subject: str, customer_name: str = "Someone") -> Ticket:
    return open_ticket(
        customer=CustomerFactory.create(full_name=customer_name),
        subject=subject,
        channel="phone",
        body="...",
    )


def _found(q: str) -> set[str]:
    found = TicketFilter({"q": q}, queryset=queue_tickets()).qs
    return set(found.values_list("subject", flat=True))


@pytest.mark.parametrize("q", ["батарея", "Батарея", "БАТАРЕЯ", "бАтАрЕя", "АТАР"])  # noqa: RUF001
def test_a_cyrillic_word_is_found_in_any_case(q: str) -> None:
    _ticket("Батарея не держит заряд")
    _ticket("Не включается")  # noqa: RUF001

    assert _found(q) == {"Батарея не держит заряд"}


def test_accented_and_ascii_letters_fold_too() -> None:
    _ticket("Café machine leaks")

    assert _found("CAFÉ") == {"Café machine leaks"}
    assert _found("machine") == {"Café machine leaks"}


def test_the_customers_name_finds_their_tickets() -> None:
    _ticket("Kettle leaks", customer_name="Анна Иванова")
    _ticket("Screen broken", customer_name="Boris Petrov")

    assert _found("иванова") == {"Kettle leaks"}
    assert _found("анна kettle") == {"Kettle leaks"}
    assert _found("petrov screen") == {"Screen broken"}


def test_the_queue_page_finds_a_lower_case_cyrillic_word(operator: User) -> None:
    _ticket("Батарея разряжается")
    client = Client()
    client.force_login(operator)

    text = client.get(reverse("tickets:queue"), {"q": "батарея", "status": "new"}).text

    assert "Батарея разряжается" in text


@pytest.mark.postgres
def test_postgresql_answers_the_subject_search_from_the_trigram_index() -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ticket_subject_trgm_idx'"
        )
        (definition,) = cursor.fetchone()
    assert "gin_trgm_ops" in definition and "upper" in definition.lower()
    query = str(TicketFilter({"q": "батарея"}, queryset=queue_tickets()).qs.query)
    assert 'UPPER("tickets_ticket"."subject"::text) LIKE UPPER(' in query
