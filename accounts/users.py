"""The user behind an API request, typed as the project's User."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from rest_framework.request import Request

from accounts.models import User


def acting_user(request: Request) -> User:
    """The authenticated user of a request (permissions have let only those through)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
