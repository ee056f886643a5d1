"""A warm process authenticates a request without a database round trip.

Two reads every authenticated request made are kept, each with the user's permissions already
read (so the permission checks cost nothing either):

- an API token by the digest of its key (`accounts.tokens.authenticate_key`): token and user;
- a signed-in session's user by id (`accounts.backends.CachedModelBackend.get_user`).

Each is kept in this process for settings.API_TOKEN_LOCAL_CACHE_SECONDS (no round trip at all)
and in the shared cache (Redis in production) for settings.API_TOKEN_CACHE_SECONDS (one cache
read instead of three SQL statements, for every process).

Revocation is respected: revoking, editing or deleting a token, and saving, deactivating or
deleting a user or changing their groups or permissions (or a group's permissions) forget that
user and their tokens in the shared cache and in this process at once, and again after the
commit (a request between the two could have cached the old rows). Another process may still
accept a revoked token or a deactivated user for at most API_TOKEN_LOCAL_CACHE_SECONDS. A
token's expiry is checked on every hit. A cache that fails is skipped: the database answers,
as it did before the cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts.models import ApiToken, User

logger = logging.getLogger(__name__)

_TOKEN_PREFIX = "auth-token:"
_USER_PREFIX = "auth-user:"
# Where a token keeps its user once read (the related-object cache's key).
_TOKEN_USER_CACHE = ApiToken._meta.get_field("user").cache_name
# cache key -> (monotonic time kept, token or user)
_local: dict[str, tuple[float, Any]] = {}


def _token_key(digest: str) -> str:
    return _TOKEN_PREFIX + digest


def _user_key(user_id: Any) -> str:
    return f"{_USER_PREFIX}{user_id}"


def load_permissions(user: User) -> None:
    """Read the user's permissions, their own and their groups', in one query into the cache
    ModelBackend keeps on the user (`_perm_cache`), instead of its two (a PBX posting events
    pays it on every cold request). An inactive user keeps none, as ModelBackend says."""
    if not user.is_active or user.is_superuser:
        return  # ModelBackend answers these without reading permissions
    rows = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    user._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}  # type: ignore[attr-defined]


def _warm_permissions(user: User) -> None:
    # ModelBackend caches the permission sets on the user object: read them now so that the
    # kept user answers has_perm() without a query. A superuser's checks read none.
    load_permissions(user)


def _shallow(instance: Any) -> Any:
    """`copy.copy()` of a model instance without the pickling protocol it goes through
    (`__reduce__`, which also looks the model up by name): the same state, `Model.__getstate__`
    (its own `_state` and cache of related objects), in a new instance. A fifth of the
    lookup's Python time went to the two copies of a token and its user."""
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__.update(instance.__getstate__())
    return clone


def _copy_token(token: ApiToken) -> ApiToken:
    """A request gets its own objects; the permission sets are shared read-only."""
    user = _shallow(token.user)
    token = _shallow(token)
    token._state.fields_cache[_TOKEN_USER_CACHE] = user  # what `token.user = user` sets
    return token


def _read(key: str) -> Any:
    local = _local.get(key)
    if local is not None:
        kept_at, value = local
        if time.monotonic() - kept_at < settings.API_TOKEN_LOCAL_CACHE_SECONDS:
            return value
        _local.pop(key, None)
    try:
        value = cache.get(key)
    except Exception:  # a cache that fails is no cache: the database answers
        logger.warning("Authentication cache unavailable", exc_info=True)
        return None
    if value is not None:
        _local[key] = (time.monotonic(), value)
    return value


def _keep(key: str, value: Any) -> None:
    _local[key] = (time.monotonic(), value)
    try:
        cache.set(key, value, settings.API_TOKEN_CACHE_SECONDS)
    except Exception:
        logger.warning("Authentication cache unavailable", exc_info=True)


def cached_token(digest: str, *, now: Any) -> ApiToken | None:
    """The token kept for this digest, if still valid; None when nothing is kept (the caller
    reads the database)."""
    token = _read(_token_key(digest))
    if token is None or not token.is_valid(now=now):
        return None
    return _copy_token(token)


def keep_token(token: ApiToken) -> None:
    """Keep a valid token found in the database (with its user and their permissions)."""
    _warm_permissions(token.user)
    _keep(_token_key(token.digest), _copy_token(token))


def cached_user(user_id: Any) -> User | None:
    """The user kept for this id, or None (the caller reads the database)."""
    user = _read(_user_key(user_id))
    return _shallow(user) if user is not None else None


def keep_user(user: User) -> None:
    """Keep a user read from the database for a session, with their permissions."""
    _warm_permissions(user)
    _keep(_user_key(user.pk), _shallow(user))


def _forget(keys: list[str]) -> None:
    for key in keys:
        _local.pop(key, None)
    try:
        cache.delete_many(keys)
    except Exception:
        # Not forgotten in the shared cache: it expires within API_TOKEN_CACHE_SECONDS.
        logger.warning("Authentication cache unavailable: entries not forgotten", exc_info=True)


def _forget_now_and_after_commit(keys: list[str]) -> None:
    if keys:
        _forget(keys)
        transaction.on_commit(lambda: _forget(keys))


def forget_digests(digests: Iterable[str]) -> None:
    """Forget these tokens now and again after the transaction commits."""
    _forget_now_and_after_commit([_token_key(digest) for digest in digests])


def forget_users(user_ids: Iterable[int]) -> None:
    """Forget these users and every token of theirs (they changed, or their permissions)."""
    ids = [user_id for user_id in user_ids if user_id is not None]
    if not ids:
        return
    digests = ApiToken.objects.filter(user_id__in=ids).values_list("digest", flat=True)
    _forget_now_and_after_commit(
        [*(_user_key(user_id) for user_id in ids), *(_token_key(d) for d in digests)]
    )


def clear_local() -> None:
    """Forget everything this process keeps (tests, a process that forked)."""
    _local.clear()


def _token_changed(sender: type[ApiToken], instance: ApiToken, **_: Any) -> None:
    forget_digests([instance.digest])


def _user_changed(sender: type[User], instance: User, **_: Any) -> None:
    forget_users([instance.pk])


def _m2m_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, User):
        forget_users([instance.pk])
    elif isinstance(instance, Group):
        forget_users(instance.user_set.values_list("pk", flat=True))
    elif kwargs.get("model") is User:
        # group.user_set.add(...): the users named.
        forget_users(kwargs.get("pk_set") or [])
    elif kwargs.get("model") is Group:
        # permission.group_set.add(...): the users of the groups named.
        groups = kwargs.get("pk_set") or []
        forget_users(User.objects.filter(groups__in=groups).values_list("pk", flat=True))


def connect() -> None:
    """Forget kept tokens and users whenever what authentication or the permission check
    read changes (bulk updates call forget_digests / forget_users themselves)."""
    receivers: list[tuple[Any, Callable[..., None], Any, str]] = [
        (post_save, _token_changed, ApiToken, "token_saved"),
        (post_delete, _token_changed, ApiToken, "token_deleted"),
        (post_save, _user_changed, User, "user_saved"),
        (post_delete, _user_changed, User, "user_deleted"),
        (m2m_changed, _m2m_changed, User.groups.through, "user_groups"),
        (m2m_changed, _m2m_changed, User.user_permissions.through, "user_perms"),
        (m2m_changed, _m2m_changed, Group.permissions.through, "group_perms"),
    ]
    for signal, receiver, sender, uid in receivers:
        signal.connect(receiver, sender=sender, dispatch_uid=f"auth_cache.{uid}")
