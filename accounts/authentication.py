"""`Authorization: Token <key>`: the key is looked up by its SHA-256 (accounts/tokens.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.tokens import authenticate_key


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token header and 401 with `WWW-Authenticate: Token`, against hashed, named,
    expiring and revocable tokens. An expired or revoked token is as unknown as a wrong one."""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = authenticate_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return token.user, token
