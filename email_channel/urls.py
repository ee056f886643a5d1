"""The providers' inbound webhooks, /email/inbound/<provider>/inbound/ (django-anymail's views).

They answer 404 until ANYMAIL_WEBHOOK_SECRET is set: anymail would otherwise accept posts from
anyone (it only warns), and a webhook that creates tickets must be authenticated.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from anymail import urls as anymail_urls
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver


def _require_secret(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
            raise Http404("inbound email webhooks are not configured")
        return view(request, *args, **kwargs)

    return guarded


def _inbound_patterns() -> list[URLPattern | URLResolver]:
    patterns: list[URLPattern | URLResolver] = []
    for pattern in anymail_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and "inbound" in (pattern.name or ""):
            patterns.append(
                URLPattern(pattern.pattern, _require_secret(pattern.callback), name=pattern.name)
            )
    return patterns


app_name = "email_channel"
urlpatterns = _inbound_patterns()
