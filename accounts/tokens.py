"""API tokens: issued, found by the hash of the key, expired and revoked.

The key is 32 random bytes: guessing one is hopeless, so a single SHA-256 (no salt, no slow
hash) is as safe as a password hash would be and lets a request find its token by one lookup
of a unique index. The database holds only the digest: a leaked dump or backup opens nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import auth_cache
from accounts.models import ApiToken, User

# Recognisable in logs and by secret scanners; never part of what is checked.
KEY_PREFIX = "crm_"
KEY_BYTES = 32
# How many characters of the key the admin shows to tell tokens apart.
SHOWN_CHARS = 10


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def issue_token(
    *,
    user: User,
    name: str = "default",
    expires_at: datetime.datetime | None = None,
    replace: bool = False,
) -> tuple[ApiToken, str]:
    """A new token for `user` and its key (shown once; only the digest is stored).

    `replace` revokes the user's other valid tokens first (a rotation).
    """
    now = timezone.now()
    if replace:
        revoke_tokens(user=user, at=now)
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:SHOWN_CHARS],
        digest=hash_key(key),
        created_at=now,
        expires_at=expires_at,
    )
    return token, key


def revoke_tokens(*, user: User, at: datetime.datetime | None = None) -> int:
    """Revoke every token of `user` that still works; the number revoked."""
    return revoke_queryset(ApiToken.objects.filter(user=user), at=at)


def revoke_queryset(tokens: QuerySet[ApiToken], *, at: datetime.datetime | None = None) -> int:
    """Revoke the tokens of this queryset that still work, and forget them in the caches of
    auth_cache (an update sends no signal); the number revoked."""
    working = tokens.filter(revoked_at__isnull=True)
    auth_cache.forget_digests(working.values_list("digest", flat=True))
    return working.update(revoked_at=at or timezone.now())


def revoke_token(*, token: ApiToken, at: datetime.datetime | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = at or timezone.now()
        token.save(update_fields=["revoked_at"])


def authenticate_key(key: str, *, now: datetime.datetime | None = None) -> ApiToken | None:
    """The valid token with this key (its user loaded), or None: one lookup by the digest,
    nothing written; on a warm process no lookup at all (accounts.auth_cache)."""
    now = now or timezone.now()
    digest = hash_key(key)
    cached = auth_cache.cached_token(digest, now=now)
    if cached is not None:
        return cached
    token = ApiToken.objects.select_related("user").filter(digest=digest).first()
    if token is None or not token.is_valid(now=now) or not token.user.is_active:
        return None
    auth_cache.keep_token(token)
    return token
