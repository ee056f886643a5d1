"""One error shape for the whole API: nothing a client sends may become a 500.

Every error answer is a JSON object with a stable `code` (the table in docs/api.md). Field
errors keep their shape, `{"field": ["message"], ...}` nested like the input, with
`"code": "invalid"` beside them (`invalid_parameter` for a query parameter, `invalid_cursor`
for a page cursor); every other error is `{"detail": "...", "code": "..."}`.

Django's ValidationError (raised by services and model rules) becomes a 400 with field-level
messages, like DRF's own; a database conflict (a unique key taken by a concurrent request, a
protected row) a 409; a value the database cannot store a 400; a body over
DATA_UPLOAD_MAX_MEMORY_SIZE a 413. Errors raised outside the API views (an unknown path under
/api/, a server error) are answered by the JSON handlers in `core.api.error_views`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

# The `code` of field errors in the body, the default of every DRF ValidationError.
INVALID = "invalid"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class UnprocessableEntity(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is too large.")
    default_code = "request_too_large"


class InvalidParameter(ValidationError):
    """Field errors about query parameters (filters), keyed by the parameter's name."""

    error_code = "invalid_parameter"


class InvalidCursor(ValidationError):
    """A page cursor that this list did not hand out: `{"cursor": [...]}`."""

    error_code = "invalid_cursor"


def django_error_to_dict(exc: DjangoValidationError) -> dict[str, Any]:
    """Field-keyed messages of a Django ValidationError; errors with no field go under
    `non_field_errors`."""
    detail = as_serializer_error(exc)
    return {key: [str(message) for message in messages] for key, messages in detail.items()}


def error_body(detail: Any, code: str) -> dict[str, Any]:
    """The one error shape: field errors as they are, anything else under `detail`; and
    `code` beside them."""
    if isinstance(detail, dict):
        return {**detail, "code": code}
    if isinstance(detail, list):
        return {"non_field_errors": detail, "code": code}
    return {"detail": detail, "code": code}


def _code_of(exc: APIException) -> str:
    named = getattr(exc, "error_code", None)
    if named:
        return str(named)
    if isinstance(exc, ValidationError):
        return INVALID
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else str(exc.default_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus Django validation errors, database conflicts and oversized bodies;
    every answer in the one error shape with its `code`."""
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return Response(
            error_body(django_error_to_dict(exc), INVALID), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    if isinstance(exc, ProtectedError | RestrictedError):
        set_rollback()
        return Response(
            error_body(
                _("This record is still referred to by other records and stays."), "protected"
            ),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, IntegrityError):
        set_rollback()
        logger.info("API request hit a database constraint: %s", exc)
        return Response(
            error_body(
                _("The record conflicts with an existing one; reload it and retry."), "conflict"
            ),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        set_rollback()
        logger.info("API request hit a database value error: %s", exc)
        return Response(
            error_body(_("A value is out of the range the database can store."), "out_of_range"),
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if response is not None:
        api_exc = exc if isinstance(exc, APIException) else None
        if api_exc is None:  # Http404 or Django's PermissionDenied, translated by DRF
            code = "not_found" if response.status_code == 404 else "permission_denied"
        else:
            code = _code_of(api_exc)
        detail = response.data
        if isinstance(detail, dict) and set(detail) == {"detail"}:
            detail = detail["detail"]
        response.data = error_body(detail, code)
    return response
