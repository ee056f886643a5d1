"""503 with Retry-After while the database is unreachable, instead of a server error.

A database that is down, restarting, refusing connections or not answering within its
timeouts (settings.py) is a passing condition, not a bug: clients are asked to come back in
settings.DATABASE_RETRY_AFTER_SECONDS. Django's handler500 (core.api.error_views.server_error)
asks `is_database_unavailable` about the exception being handled and answers with
`unavailable_response`: the API's JSON error shape under /api/, a plain page elsewhere (no
template, no context processor: nothing that may reach the database again).
"""

from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

# SQLSTATE classes and codes that mean "the server is away or gave up", not "the query is
# wrong": connection exceptions (08), operator intervention (57: shutdown, cannot connect now,
# statement timeout), insufficient resources (53: too many connections).
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57", "53")
API_PREFIX = "/api/"


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached now (as opposed to a bad query)."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        # psycopg's client-side failures (refused, timed out, connection lost) carry no
        # SQLSTATE; SQLite says "database is locked" when a writer held it too long.
        message = str(exc).lower()
        return getattr(cause, "__module__", "").startswith("psycopg") or "locked" in message
    return str(sqlstate).startswith(UNAVAILABLE_SQLSTATE_PREFIXES)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON under /api/, a plain HTML page elsewhere."""
    retry_after = str(settings.DATABASE_RETRY_AFTER_SECONDS)
    detail = _("The service is briefly unavailable; retry in a few seconds.")
    response: HttpResponse
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse({"detail": detail, "code": "service_unavailable"}, status=503)
    else:
        title = _("Service unavailable")
        response = HttpResponse(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"</head><body><h1>{escape(title)}</h1><p>{escape(detail)}</p></body></html>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = retry_after
    response["Cache-Control"] = "no-store"
    return response
