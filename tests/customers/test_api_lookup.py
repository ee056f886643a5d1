"""Caller ID: any spelling of a number finds the customer, in one indexed query."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import User
from customers.models import Customer
from tests.api_fixtures import ClientFor
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    PhoneFactory,
    ProductFactory,
    PurchaseFactory,
    TicketFactory,
)
from tickets.models import Status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

URL = "/api/v1/customers/lookup/"
NUMBER = "+79123456789"

SPELLINGS = [
    "+79123456789",
    "+7 912 345-67-89",
    "8 (912) 345-67-89",
    "89123456789",
    "8-912-345-67-89",
    "+7 (912) 345 67 89",
    "9123456789",
    "007 912 345 67 89",
    "8 10 7 912 345 67 89",
    " +7.912.345.67.89 ",
]


@pytest.fixture
def anna(db: None) -> Customer:
    customer = CustomerFactory.create(full_name="Anna Ivanova")
    PhoneFactory.create(customer=customer, value="8 (912) 345-67-89")
    EmailFactory.create(customer=customer, value="Anna@Example.com")
    TicketFactory.create(customer=customer)
    TicketFactory.create(
        customer=customer,
        status=Status.RESOLVED,
        created_at=timezone.now() - dt.timedelta(days=1),
        resolved_at=timezone.now(),
    )
    product = ProductFactory.create(name="Kettle")
    PurchaseFactory.create(
        customer=customer,
        product=product,
        amount=Decimal("2500.00"),
        purchased_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
    )
    PurchaseFactory.create(customer=customer, purchased_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    return customer


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_any_spelling_of_the_number_finds_the_customer(
    client_for: ClientFor, operator: User, anna, spelling: str
) -> None:
    response = client_for(operator).get(URL, {"phone": spelling})

    assert response.status_code == 200, response.data
    assert [row["id"] for row in response.data] == [anna.pk]


def test_summary_has_open_tickets_last_purchase_and_card_url(
    client_for: ClientFor, operator: User, anna
) -> None:
    (row,) = client_for(operator).get(URL, {"phone": NUMBER}).data

    assert row["full_name"] == "Anna Ivanova"
    assert row["open_tickets_count"] == 1
    assert row["last_purchase_product"] == "Kettle"
    assert Decimal(row["last_purchase_amount"]) == Decimal("2500.00")
    assert row["last_purchase_at"].startswith("2026-05-01")
    assert row["card_url"] == f"/customers/{anna.pk}/"


def test_email_lookup_ignores_case(client_for: ClientFor, operator: User, anna) -> None:
    response = client_for(operator).get(URL, {"email": " ANNA@example.COM "})

    assert [row["id"] for row in response.data] == [anna.pk]


def test_unknown_number_is_an_empty_list(client_for: ClientFor, operator: User, anna) -> None:
    response = client_for(operator).get(URL, {"phone": "+7 912 000-00-00"})

    assert response.status_code == 200
    assert response.data == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"phone": "hello"}, "phone"), ({"email": "nobody"}, "email"), ({}, "non_field_errors")],
)
def test_bad_query_is_a_400_naming_the_field(
    client_for: ClientFor, operator: User, params: dict[str, str], field: str
) -> None:
    response = client_for(operator).get(URL, params)

    assert response.status_code == 400
    assert field in response.data


def test_lookup_is_one_query_on_the_contact_index(
    client_for: ClientFor, operator: User, anna
) -> None:
    client = client_for(operator)
    client.get(URL, {"phone": NUMBER})  # warm the token and permission caches of this request

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"phone": NUMBER})

    assert response.status_code == 200
    # The token, its user and their permissions come from the warm process (issue 18): the
    # lookup's own statement is the request's only one.
    assert len(queries.captured_queries) == 1
    assert "customers_contactpoint" in queries.captured_queries[0]["sql"]


def test_lookup_needs_view_permission(client_for: ClientFor, integration: User, anna) -> None:
    assert client_for(integration).get(URL, {"phone": NUMBER}).status_code == 403


def test_anonymous_lookup_is_401(anonymous: APIClient) -> None:
    assert anonymous.get(URL, {"phone": NUMBER}).status_code == 401


separators = st.sampled_from(["", " ", "-", "(", ")", "."])


# The lookups only read, so one customer serves every generated spelling.
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    prefix=st.sampled_from(["+7", "8", "+7 ", "8 ", "007 ", "+ 7"]),
    seps=st.lists(separators, min_size=10, max_size=10),
)
def test_generated_spellings_find_the_customer(
    client_for: ClientFor, operator: User, anna, prefix: str, seps: list[str]
) -> None:
    spelled = prefix + "".join(sep + digit for sep, digit in zip(seps, "9123456789", strict=True))

    response = client_for(operator).get(URL, {"phone": spelled})

    assert response.status_code == 200, (spelled, response.data)
    assert [row["id"] for row in response.data] == [anna.pk]


@pytest.mark.postgres
def test_lookup_query_can_use_the_contact_index(anna: Customer) -> None:
    from crm.api.customer_views import lookup_customers

    sql, params = lookup_customers(phone=NUMBER).query.sql_with_params()
    with connection.cursor() as cursor:
        # A test table is tiny, where a sequential scan is cheaper: ask what the index gives.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "contact_point_lookup_idx" in plan


def test_the_compiled_lookup_reads_what_the_queryset_reads(anna: Customer) -> None:
    """The API's path (the statement compiled once, the caller's value swapped in) gives the
    same rows and types as the queryset, for a phone and an email, on either database."""
    from crm.api.customer_views import LOOKUP_COLUMNS, lookup_customers, lookup_rows

    other = CustomerFactory.create(full_name="Boris")
    PhoneFactory.create(customer=other, value="+7 912 000-11-22")
    for query in ({"phone": "8 (912) 345-67-89"}, {"email": "ANNA@example.com"},
                  {"phone": "+79120001122"}, {"phone": "+79990001122"}):  # fmt: skip
        expected = list(lookup_customers(**query).values_list(*LOOKUP_COLUMNS))
        rows = lookup_rows(**query)
        assert [tuple(vars(row).values()) for row in rows] == expected, query
    first = lookup_rows(phone=NUMBER)[0]
    assert first.last_purchase_at == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    assert first.last_purchase_amount == Decimal("2500.00")
    assert first.open_tickets_count == 1


def test_the_compiled_lookup_compiles_once(anna: Customer) -> None:
    from django.db.models.sql.compiler import SQLCompiler

    from crm.api import customer_views

    customer_views.lookup_rows(phone=NUMBER)  # compiled here, if no test did before
    calls: list[int] = []
    original = SQLCompiler.as_sql

    def counting(self: SQLCompiler, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    SQLCompiler.as_sql = counting  # type: ignore[method-assign,assignment]
    try:
        with CaptureQueriesContext(connection) as queries:
            rows = customer_views.lookup_rows(phone="+7 912 345 67 89")
    finally:
        SQLCompiler.as_sql = original  # type: ignore[method-assign]
    assert [row.id for row in rows] == [anna.pk]
    assert len(queries) == 1
    assert calls == []


@pytest.mark.postgres
def test_the_lookup_statement_is_planned_once_per_connection(
    client_for: ClientFor, operator: User, anna: Customer
) -> None:
    client = client_for(operator)
    first = client.get(URL, {"phone": NUMBER})
    second = client.get(URL, {"phone": "8 (912) 345-67-89"})

    assert first.data == second.data and [row["id"] for row in second.data] == [anna.pk]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert sum("customers_contactpoint" in statement for statement in prepared) == 1


def test_the_answer_is_what_the_result_serializer_writes(
    client_for: ClientFor, operator: User, anna
) -> None:
    """The view renders rows with one shared serializer; a fresh one per request (DRF's way)
    writes the same, for a customer with purchases and one with none (the nulls)."""
    from crm.api.customer_views import lookup_rows
    from customers.api.serializers import LookupResultSerializer

    bare = CustomerFactory.create(full_name="No Purchases")
    PhoneFactory.create(customer=bare, value=NUMBER)
    response = client_for(operator).get(URL, {"phone": NUMBER})

    expected = LookupResultSerializer(lookup_rows(phone=NUMBER), many=True).data
    assert response.json() == [dict(row) for row in expected]
    assert {row["last_purchase_at"] is None for row in response.json()} == {True, False}


_QUERY_VALUES = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["", " ", "+7 912 345-67-89", "a@b.example", "\x00", "x" * 64, "x" * 65]),
)


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(["phone", "email", "other"]), _QUERY_VALUES), max_size=4
    )
)
def test_the_query_is_read_as_the_query_serializer_reads_it(
    pairs: list[tuple[str, str]],
) -> None:
    """lookup_query() (bound fields, no serializer per ring) accepts and refuses what
    LookupQuerySerializer does, with the same messages: absent, blank, too long, NUL, both,
    neither, repeated keys."""
    from django.http import QueryDict

    from core.api.exceptions import InvalidParameter
    from crm.api.customer_views import LookupQuerySerializer, lookup_query

    params = QueryDict(mutable=True)
    for key, value in pairs:
        params.appendlist(key, value)
    serializer = LookupQuerySerializer(data=params)
    try:
        fast: object = lookup_query(params)
    except InvalidParameter as exc:
        fast = exc.detail
        assert not serializer.is_valid()
        assert fast == serializer.errors
    else:
        assert serializer.is_valid(), serializer.errors
        assert fast == serializer.validated_data


@pytest.mark.postgres
def test_the_lookup_runs_from_its_cached_generic_plan(
    client_for: ClientFor, operator: User, anna: Customer
) -> None:
    """Planned once per connection, not on every ring: with the statuses and kinds as
    parameters the generic plan was costed four times the custom one (a guessed share of
    completed purchases), so PostgreSQL planned each lookup again (1.4 ms against 0.35)."""
    client = client_for(operator)
    for _ in range(12):
        assert client.get(URL, {"phone": NUMBER}).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans, parameter_types::text FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["%customers_contactpoint%"],
        )
        ((generic, custom, types),) = cursor.fetchall()
    # PostgreSQL plans a prepared statement's first five runs for their values, then keeps
    # the generic plan if it costs no more.
    assert (generic, custom) == (7, 5)
    assert types == "{text}"  # the caller's value is the statement's one parameter
