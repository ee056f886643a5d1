"""Request rate limits per token (per authenticated user), configured in settings."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class TokenRateThrottle(UserRateThrottle):
    """UserRateThrottle whose rate is read from settings.API_THROTTLE_RATE on every request."""

    scope = "user"

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATE or None
