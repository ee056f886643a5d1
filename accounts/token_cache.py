"""A warm process authenticates an API token without a database round trip.

`authenticate_key` finds a token by the digest of its key. A valid token's token and user
(with the user's permissions already read, so the permission check costs nothing either) are
kept in two places:

- in this process, for settings.API_TOKEN_LOCAL_CACHE_SECONDS: no round trip at all;
- in the shared cache (Redis in production), for settings.API_TOKEN_CACHE_SECONDS: one cache
  read instead of three SQL statements, for every process.

Revocation is respected: revoking, editing or deleting a token, and saving, deactivating or
deleting its user or changing their groups or permissions (or a group's permissions) forget the
user's tokens in the shared cache and in this process at once, and again after the commit (a
request between the two could have cached the old rows). Another process may still accept a
revoked token for at most API_TOKEN_LOCAL_CACHE_SECONDS. Expiry is checked on every hit. A
cache that fails is skipped: the database answers, as it did before the cache.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts.models import ApiToken, User

logger = logging.getLogger(__name__)

_KEY_PREFIX = "api-token:"
# digest -> (monotonic time cached, token with its user)
_local: dict[str, tuple[float, ApiToken]] = {}


def _cache_key(digest: str) -> str:
    return _KEY_PREFIX + digest


def _fresh_copy(token: ApiToken) -> ApiToken:
    """A request gets its own token and user objects; the permission sets are shared
    read-only."""
    user = copy.copy(token.user)
    token = copy.copy(token)
    token.user = user
    return token


def cached_token(digest: str, *, now: Any) -> ApiToken | None:
    """The token kept for this digest in this process or the shared cache, if still valid;
    None when nothing is kept (the caller reads the database)."""
    local = _local.get(digest)
    if local is not None:
        cached_at, token = local
        if time.monotonic() - cached_at < settings.API_TOKEN_LOCAL_CACHE_SECONDS:
            return _fresh_copy(token) if token.is_valid(now=now) else None
        _local.pop(digest, None)
    try:
        token = cache.get(_cache_key(digest))
    except Exception:  # a cache that fails is no cache: the database answers
        logger.warning("API token cache unavailable", exc_info=True)
        return None
    if token is None or not token.is_valid(now=now):
        return None
    _local[digest] = (time.monotonic(), token)
    return _fresh_copy(token)


def keep_token(token: ApiToken) -> None:
    """Keep a valid token found in the database, its user's permissions read first."""
    # ModelBackend caches the permission sets on the user object: read them now so that the
    # cached user answers has_perm() without a query.
    if token.user.is_active and not token.user.is_superuser:  # a superuser's check reads none
        token.user.get_all_permissions()
    _local[token.digest] = (time.monotonic(), _fresh_copy(token))
    try:
        cache.set(_cache_key(token.digest), token, settings.API_TOKEN_CACHE_SECONDS)
    except Exception:
        logger.warning("API token cache unavailable", exc_info=True)


def forget_digests(digests: Iterable[str]) -> None:
    """Forget these tokens now and again after the transaction commits."""
    keys = list(digests)
    if not keys:
        return
    _forget(keys)
    transaction.on_commit(lambda: _forget(keys))


def _forget(digests: list[str]) -> None:
    for digest in digests:
        _local.pop(digest, None)
    try:
        cache.delete_many([_cache_key(digest) for digest in digests])
    except Exception:
        # Not forgotten in the shared cache: it expires within API_TOKEN_CACHE_SECONDS.
        logger.warning("API token cache unavailable: tokens not forgotten", exc_info=True)


def forget_user_tokens(user_ids: Iterable[int]) -> None:
    """Forget every token of these users (they changed, or their permissions did)."""
    ids = list(user_ids)
    if ids:
        forget_digests(ApiToken.objects.filter(user_id__in=ids).values_list("digest", flat=True))


def clear_local() -> None:
    """Forget everything this process keeps (tests, a process that forked)."""
    _local.clear()


def _token_changed(sender: type[ApiToken], instance: ApiToken, **_: Any) -> None:
    forget_digests([instance.digest])


def _user_changed(sender: type[User], instance: User, **_: Any) -> None:
    if instance.pk is not None:
        forget_user_tokens([instance.pk])


def _user_m2m_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, User):
        forget_user_tokens([instance.pk])
    elif isinstance(instance, Group):
        forget_user_tokens(instance.user_set.values_list("pk", flat=True))
    elif kwargs.get("model") is User:
        # group.user_set.add(...): the users named.
        forget_user_tokens(kwargs.get("pk_set") or [])
    elif kwargs.get("model") is Group:
        # permission.group_set.add(...): the users of the groups named.
        groups = kwargs.get("pk_set") or []
        forget_user_tokens(User.objects.filter(groups__in=groups).values_list("pk", flat=True))


def connect() -> None:
    """Forget cached tokens whenever what authentication or the permission check read
    changes (bulk updates call forget_digests themselves)."""
    receivers: list[tuple[Any, Callable[..., None], Any, str]] = [
        (post_save, _token_changed, ApiToken, "token_saved"),
        (post_delete, _token_changed, ApiToken, "token_deleted"),
        (post_save, _user_changed, User, "user_saved"),
        (post_delete, _user_changed, User, "user_deleted"),
        (m2m_changed, _user_m2m_changed, User.groups.through, "user_groups"),
        (m2m_changed, _user_m2m_changed, User.user_permissions.through, "user_perms"),
        (m2m_changed, _user_m2m_changed, Group.permissions.through, "group_perms"),
    ]
    for signal, receiver, sender, uid in receivers:
        signal.connect(receiver, sender=sender, dispatch_uid=f"token_cache.{uid}")
