"""One error shape for the whole API: nothing a client sends may become a 500.

Django's ValidationError (raised by services and model rules) becomes a 400 with field-level
messages, like DRF's own; a database conflict (a unique key taken by a concurrent request, a
protected row) a 409; a value the database cannot store a 400.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class UnprocessableEntity(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


def django_error_to_dict(exc: DjangoValidationError) -> dict[str, Any]:
    """Field-keyed messages of a Django ValidationError; errors with no field go under
    `non_field_errors`."""
    detail = as_serializer_error(exc)
    return {key: [str(message) for message in messages] for key, messages in detail.items()}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus Django validation errors and database conflicts."""
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return Response(django_error_to_dict(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError | RestrictedError):
        set_rollback()
        return Response(
            {"detail": _("This record is still referred to by other records and stays.")},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, IntegrityError):
        set_rollback()
        logger.info("API request hit a database constraint: %s", exc)
        return Response(
            {"detail": _("The record conflicts with an existing one; reload it and retry.")},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        set_rollback()
        return Response(
            {"detail": _("A value is out of the range the database can store.")},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
