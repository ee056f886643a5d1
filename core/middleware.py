"""Per-operator language and time zone: the UI speaks and shows times the way its user chose."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


class OperatorPreferencesMiddleware:
    """Activate the signed-in user's time zone, and their language unless they switched it.

    An explicit choice from the language switcher (Django's language cookie) wins over the
    profile, so an operator can change the UI language for a session without editing it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            time_zone = getattr(user, "time_zone", "") or settings.TIME_ZONE
            timezone.activate(zoneinfo.ZoneInfo(time_zone))
            language = getattr(user, "language", "")
            if language and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
