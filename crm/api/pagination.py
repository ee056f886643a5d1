"""Cursor pagination: the last page of a million rows costs what the first one does."""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    """Pages ordered by the primary key, newest first; no COUNT(*), no OFFSET.

    A view may set `cursor_ordering` to another unique ordering such as ("updated_at", "id")
    for incremental syncs.
    """

    ordering = ("-id",)
    page_size_query_param = "page_size"

    def __init__(self) -> None:
        # Read per request, so that settings (and tests) may change them.
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", self.ordering)
