"""`Idempotency-Key` on POST: a retried request gets the first answer, not a second write.

The same key from the same user with the same method, path and body within
settings.API_IDEMPOTENCY_TTL replays the stored status and body (with the header
`Idempotent-Replayed: true`); the same key with another request is a 422; a key whose first
request is still running is a 409. Only answers below 500 are stored: after a server error the
client may retry with the same key.

A request holds its key for settings.API_IDEMPOTENCY_LEASE_SECONDS. A worker killed mid-request
never stores its answer nor frees the key: once the lease ran out, a retry takes the key over
(one compare-and-set UPDATE, so that of two retries only one wins) and runs the request again.
Whatever the first request wrote is gone with its transaction: the worker died before COMMIT.

On PostgreSQL the key also records the database session (backend process) of the request that
holds it. A request that failed because the database went away cannot delete its key; a retry
that finds the holder's session gone (a restart ended it, or its worker died) takes the key over
at once instead of waiting for the lease.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import Error, IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.exceptions import Conflict, UnprocessableEntity
from core.api.models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class _Replay(Exception):
    """Raised from `initial()` to answer with a stored response."""

    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__(record.key)
        self.record = record


def fingerprint(request: Request) -> str:
    """SHA-256 over the method, the full path and the raw body of a request."""
    digest = hashlib.sha256()
    digest.update((request.method or "").encode())
    digest.update(b"\0")
    digest.update(request.get_full_path().encode())
    digest.update(b"\0")
    digest.update(request._request.body)
    return digest.hexdigest()


def prune_expired_keys(*, now: dt.datetime) -> int:
    """Delete the idempotency keys that expired before `now`; return how many went."""
    deleted, _per_model = IdempotencyKey.objects.filter(expires_at__lte=now).delete()
    return deleted


def claim_key(*, request: Request, key: str, now: dt.datetime) -> IdempotencyKey:
    """Store `key` as in flight for this request, or raise what an earlier use calls for."""
    if len(key) > MAX_KEY_LENGTH or not key.strip():
        raise ValidationError(
            {HEADER: [_("Send a key of 1 to %(max)d characters.") % {"max": MAX_KEY_LENGTH}]}
        )
    print_ = fingerprint(request)
    user = request.user
    if not user.is_authenticated:
        # Permissions let only authenticated users through; this is the type's guard.
        raise PermissionDenied
    ttl = dt.timedelta(seconds=settings.API_IDEMPOTENCY_TTL_SECONDS)
    lease = dt.timedelta(seconds=settings.API_IDEMPOTENCY_LEASE_SECONDS)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    request_method=request.method or "",
                    request_path=request.get_full_path()[:2048],
                    request_fingerprint=print_,
                    created_at=now,
                    expires_at=now + ttl,
                    leased_until=now + lease,
                    holder_backend_pid=_backend_pid(),
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
            if existing is None:
                continue  # pruned between our insert and read: try once more
            if existing.expires_at <= now:
                existing.delete()
                continue
            if existing.request_fingerprint != print_:
                raise UnprocessableEntity(
                    _(
                        "This Idempotency-Key was already used for another request; "
                        "use a new key for a new request."
                    ),
                    code="idempotency_key_reused",
                ) from None
            if existing.response_status is None:
                if take_over_abandoned_key(record=existing, now=now):
                    return existing
                raise _in_flight() from None
            raise _Replay(existing) from None
    raise _in_flight()


def _in_flight() -> Conflict:
    return Conflict(
        _("A request with this Idempotency-Key is still being processed; retry later."),
        code="idempotency_key_in_flight",
    )


def _backend_pid() -> int | None:
    """This request's PostgreSQL backend process id (known to the client: no round trip)."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


def _holder_is_gone(record: IdempotencyKey) -> bool:
    """Whether the database session that claimed the key has ended (PostgreSQL only).

    A session of that pid started after the lease ran out is another one that reused the pid;
    one that started before is taken for the holder, which errs on the safe side (409).
    """
    if record.holder_backend_pid is None or connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND backend_start <= %s",
            [record.holder_backend_pid, record.leased_until or record.expires_at],
        )
        return cursor.fetchone() is None


def take_over_abandoned_key(*, record: IdempotencyKey, now: dt.datetime) -> bool:
    """Take the key of an in-flight request whose lease ran out or whose database session
    ended; False if it still runs or another retry took it first. On success `record` holds
    the new lease."""
    leased_until = record.leased_until
    if leased_until is not None and leased_until > now and not _holder_is_gone(record):
        return False
    ttl = dt.timedelta(seconds=settings.API_IDEMPOTENCY_TTL_SECONDS)
    lease = dt.timedelta(seconds=settings.API_IDEMPOTENCY_LEASE_SECONDS)
    fields = {
        "created_at": now,
        "expires_at": now + ttl,
        "leased_until": now + lease,
        "holder_backend_pid": _backend_pid(),
    }
    taken = IdempotencyKey.objects.filter(
        pk=record.pk, response_status__isnull=True, leased_until=leased_until
    ).update(**fields)
    if taken != 1:
        return False
    for name, value in fields.items():
        setattr(record, name, value)
    return True


def _still_ours(record: IdempotencyKey) -> QuerySet[IdempotencyKey]:
    """The key's row, if no retry took it over since this request claimed it."""
    return IdempotencyKey.objects.filter(
        pk=record.pk, response_status__isnull=True, leased_until=record.leased_until
    )


def _release(record: IdempotencyKey) -> None:
    try:
        _still_ours(record).delete()
    except Error:  # the database is away: the retry takes the key over
        logger.warning("Idempotency-Key %s not released now: the database is away", record.key)


class IdempotentPostMixin:
    """For API views: honour an `Idempotency-Key` header on POST."""

    _idempotency_record: IdempotencyKey | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._idempotency_record = None
        key = request.headers.get(HEADER)
        if request.method == "POST" and key is not None:
            self._idempotency_record = claim_key(request=request, key=key, now=timezone.now())

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            record = exc.record
            return Response(
                record.response_body,
                status=record.response_status,
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            return super().handle_exception(exc)  # type: ignore[misc]
        except BaseException:
            # An unhandled error (a 500 or 503): free the key, so that the client's retry runs
            # again. With the database away the key cannot be deleted now: its holder's session
            # is gone, and the retry takes it over (`_holder_is_gone`).
            pending, self._idempotency_record = self._idempotency_record, None
            if pending is not None:
                _release(pending)
            raise

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record = self._idempotency_record
        if record is not None:
            self._idempotency_record = None
            if response.status_code >= 500:
                _still_ours(record).delete()
            else:
                _still_ours(record).update(
                    response_status=response.status_code,
                    response_body=getattr(response, "data", None),
                    leased_until=None,
                )
        return response
