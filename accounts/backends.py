"""The password and session backend: Django's ModelBackend with the session's user kept by
accounts.auth_cache, so a warm process reads no user or permission row per request."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from accounts import auth_cache
from accounts.models import User


class CachedModelBackend(ModelBackend):
    """ModelBackend whose `get_user` (every signed-in request) is served from the cache."""

    def get_user(self, user_id: Any) -> User | None:
        user = auth_cache.cached_user(user_id)
        if user is not None:
            return user if self.user_can_authenticate(user) else None
        found = super().get_user(user_id)
        if found is not None:
            auth_cache.keep_user(found)
        return found
