"""Project-level pages: the home page, the health check used by load balancers, and the page
of a form refused for its CSRF token."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from surveys import views as survey_views


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where a newcomer lands: what is here and where to go."""
    return render(request, "home.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for docker-compose and load balancers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any database failure means "not healthy"
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok"})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a customer on the public survey page is told in that page's own
    layout and language, with the link to open it again; staff get templates/403_csrf.html.

    The unsubscribe page (/u/) takes no CSRF token (mail clients post to it), so it cannot
    fail here.
    """
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    if match is not None and match.view_name == "surveys:answer":
        return survey_views.csrf_failure(request, match.kwargs["token"])
    return csrf.csrf_failure(request, reason)
