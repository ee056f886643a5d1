"""`Authorization: Token <key>`: the key is looked up by its SHA-256 (accounts/tokens.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.models import User
from accounts.tokens import authenticate_key


def load_permissions(user: User) -> None:
    """Read the user's permissions, their own and their groups', in one query into the cache
    ModelBackend keeps on the user (`_perm_cache`), instead of its two (a PBX posting events
    pays it on every request). An inactive user keeps none, as ModelBackend says."""
    if not user.is_active or user.is_superuser:
        return  # ModelBackend answers these without reading permissions
    rows = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    user._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}  # type: ignore[attr-defined]


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token header and 401 with `WWW-Authenticate: Token`, against hashed, named,
    expiring and revocable tokens. An expired or revoked token is as unknown as a wrong one."""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = authenticate_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        load_permissions(token.user)
        return token.user, token
