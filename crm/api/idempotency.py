"""`Idempotency-Key` on POST: a retried request gets the first answer, not a second write.

The same key from the same user with the same method, path and body within
settings.API_IDEMPOTENCY_TTL replays the stored status and body (with the header
`Idempotent-Replayed: true`); the same key with another request is a 422; a key whose first
request is still running is a 409. Only answers below 500 are stored: after a server error the
client may retry with the same key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.exceptions import Conflict, UnprocessableEntity
from crm.api.models import IdempotencyKey
from crm.api.users import acting_user

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
    user = acting_user(request)
    ttl = dt.timedelta(seconds=settings.API_IDEMPOTENCY_TTL_SECONDS)
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
                    )
                ) from None
            if existing.response_status is None:
                raise Conflict(
                    _("A request with this Idempotency-Key is still being processed; retry later.")
                ) from None
            raise _Replay(existing) from None
    raise Conflict(_("A request with this Idempotency-Key is still being processed; retry later."))


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
            # An unhandled error (a 500): free the key, so that the client's retry runs again.
            pending, self._idempotency_record = self._idempotency_record, None
            if pending is not None:
                IdempotencyKey.objects.filter(pk=pending.pk).delete()
            raise

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record = self._idempotency_record
        if record is not None:
            self._idempotency_record = None
            if response.status_code >= 500:
                record.delete()
            else:
                record.response_status = response.status_code
                record.response_body = getattr(response, "data", None)
                record.save(update_fields=["response_status", "response_body"])
        return response
