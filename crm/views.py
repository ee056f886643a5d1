"""Project-level pages: the home page, the health check used by load balancers, and the page
of a form refused for its CSRF token."""

import logging
from collections.abc import Callable

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.cache import FailSoftRedisCache
from surveys import views as survey_views

logger = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where a newcomer lands: what is here and where to go."""
    return render(request, "home.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for docker-compose and load balancers: the database and the cache, each alone.

    503 when the database does not answer (nothing works without it); 200 with "degraded" when
    only Redis is away (the app serves without its cache). No error text: the log has it.
    """
    database = _check("database", _ping_database)
    cache = _check("cache", _ping_cache) if isinstance(caches["default"], RedisCache) else None
    body: dict[str, str] = {"database": database}
    if cache is not None:
        body["cache"] = cache
    if database != "ok":
        return JsonResponse({"status": "error", **body}, status=503)
    return JsonResponse({"status": "ok" if cache in (None, "ok") else "degraded", **body})


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_cache() -> None:
    backend = caches["default"]
    if isinstance(backend, FailSoftRedisCache):
        backend.ping()
        backend.breaker.reset()
    elif isinstance(backend, RedisCache):
        backend._cache.get_client(write=False).ping()


def _check(name: str, ping: Callable[[], None]) -> str:
    try:
        ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        logger.warning("health check: %s unavailable: %s: %s", name, type(exc).__name__, exc)
        return "unavailable"
    return "ok"


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
