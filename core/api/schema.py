"""Helpers of the OpenAPI schema (drf-spectacular settings refer to them by path)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every error that is not about fields: 401, 403, 404, 409, 413, 415, 422,
    429, 500."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text="A stable name of the error; see docs/api.md.")


class FieldErrorsSerializer(serializers.Serializer):
    """The body of a 400: messages keyed by field or parameter, nested like the input, beside
    `code` (invalid, invalid_parameter, invalid_cursor, parse_error, ...)."""

    code = serializers.CharField(help_text="A stable name of the error; see docs/api.md.")


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the error answers every operation can give.

    400: field errors ({"field": ["message"], ..., "code": "invalid"}, nested for nested
    data; a bad query parameter or cursor too); 401 without a valid token; 403 when the role
    lacks the permission; 404 for an unknown id; 409 on a conflict (a record still referred
    to, a concurrent write, an Idempotency-Key in flight); 413 for a body over the upload
    limit and 415 for one that is not JSON; 422 for an Idempotency-Key reused with another
    body; 429 when throttled.
    """

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors: dict[str, Any] = {
            "401": ErrorSerializer,
            "403": ErrorSerializer,
            "404": ErrorSerializer,
            "429": ErrorSerializer,
        }
        if self.method != "DELETE":
            errors["400"] = FieldErrorsSerializer
        if self.method in {"POST", "PUT", "PATCH", "DELETE"}:
            errors["409"] = ErrorSerializer
        if self.method in {"POST", "PUT", "PATCH"}:
            errors["413"] = ErrorSerializer
            errors["415"] = ErrorSerializer
        if self.method == "POST":
            errors["422"] = ErrorSerializer
        for code, body in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return responses
