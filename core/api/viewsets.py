"""Base view sets of the API: idempotent POSTs, role permissions, cursor pages."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from rest_framework import mixins, viewsets

from core.api.idempotency import IdempotentPostMixin


class ModelViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    """List, retrieve, create, update, partial update and delete.

    `upsert_lookups` maps an upsert action to the field its URL `key` names, so that
    get_object() (used by OPTIONS, for one) finds the record by that key.
    """

    upsert_lookups: dict[str, str] = {}

    def get_object(self) -> Any:
        # OPTIONS runs as the "metadata" action: the route's PUT action names the lookup then.
        action = self.action if self.action in self.upsert_lookups else None
        action = action or getattr(self, "action_map", {}).get("put", "")
        field = self.upsert_lookups.get(action or "") if "key" in self.kwargs else None
        if field is None:
            return super().get_object()
        instance = get_object_or_404(self.get_queryset(), **{field: self.kwargs["key"]})
        self.check_object_permissions(self.request, instance)
        return instance


class CreateReadViewSet(
    IdempotentPostMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Records that are written once and never changed through the API (history, answers)."""


class CreateReadUpdateViewSet(
    IdempotentPostMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Records that are changed but never deleted through the API."""


class ReadOnlyViewSet(IdempotentPostMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve; actions of its own (POST) may still be idempotent."""
