"""Base view sets of the API: idempotent POSTs, role permissions, cursor pages."""

from __future__ import annotations

from rest_framework import mixins, viewsets

from crm.api.idempotency import IdempotentPostMixin


class ModelViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    """List, retrieve, create, update, partial update and delete."""


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
