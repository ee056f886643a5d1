"""Cursor pagination: the last page of a million rows costs what the first one does."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination

from core.api.exceptions import InvalidCursor


class StableCursorPagination(CursorPagination):
    """Pages ordered by the primary key, newest first; no COUNT(*), no OFFSET.

    A view may set `cursor_ordering` to another unique ordering such as ("updated_at", "id")
    for incremental syncs. A cursor this list did not hand out (not base64, or a position
    that is no value of the ordering field) is a 400 `invalid_cursor` naming `cursor`.
    """

    ordering = ("-id",)
    page_size_query_param = "page_size"
    _model: Any = None

    def __init__(self) -> None:
        # Read per request, so that settings (and tests) may change them.
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", self.ordering)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = getattr(queryset, "model", None)
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> Cursor | None:
        refused = InvalidCursor(
            {self.cursor_query_param: [_("This is not a cursor of this list.")]}
        )
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise refused from None
        if cursor is None or cursor.position is None or self._model is None:
            return cursor
        name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(name)
        except FieldDoesNotExist:
            return cursor  # an annotation: nothing to check it against
        try:
            value = field.to_python(cursor.position)
            field.run_validators(value)
        except (DjangoValidationError, TypeError, ValueError, OverflowError):
            raise refused from None
        if value is None:
            raise refused
        return cursor
