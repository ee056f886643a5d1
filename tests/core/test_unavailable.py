"""Which database errors are "the database is away" (503) and which are bugs (500)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import Error, InterfaceError, OperationalError, ProgrammingError
from django.test import RequestFactory

from core.unavailable import is_database_unavailable, unavailable_response


def _django_error(kind: type[Error], cause: BaseException) -> Error:
    """A Django database error raised from a driver's, as Django's wrapper raises them."""
    try:
        raise kind(str(cause)) from cause
    except Error as exc:
        return exc


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.TooManyConnections("too many clients already"),
        psycopg.OperationalError("connection failed: Connection refused"),
    ],
)
def test_an_unreachable_or_restarting_database_is_unavailable(cause: BaseException) -> None:
    assert is_database_unavailable(_django_error(OperationalError, cause))


def test_a_closed_connection_is_unavailable() -> None:
    cause = psycopg.InterfaceError("the connection is closed")

    assert is_database_unavailable(_django_error(InterfaceError, cause))


def test_a_bad_query_is_a_bug_not_an_outage() -> None:
    undefined = psycopg.errors.UndefinedTable('relation "nowhere" does not exist')
    deadlock = psycopg.errors.DeadlockDetected("deadlock detected")

    assert not is_database_unavailable(_django_error(ProgrammingError, undefined))
    assert not is_database_unavailable(_django_error(OperationalError, deadlock))
    assert not is_database_unavailable(RuntimeError("a bug"))
    assert not is_database_unavailable(None)


def test_the_answer_is_json_in_the_api_and_a_page_elsewhere() -> None:
    api = unavailable_response(RequestFactory().get("/api/v1/customers/"))
    page = unavailable_response(RequestFactory().get("/customers/"))

    assert (api.status_code, api["Content-Type"]) == (503, "application/json")
    assert api["Retry-After"] == "5"
    assert b'"code": "service_unavailable"' in api.content
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert page["Content-Type"].startswith("text/html")
