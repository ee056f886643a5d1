"""PUT by a natural key (external ID, SKU): create the record or replace it."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet


def upsert(view: GenericViewSet, request: Request, *, field: str, value: str) -> Response:
    """Update the record whose `field` equals `value` (200) or create it (201).

    The key in the URL wins over one in the body. Two concurrent first PUTs: the loser of
    the unique constraint retries as an update.
    """
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    data = {**request.data, field: value}
    queryset = view.get_queryset()
    for _attempt in range(2):
        instance = queryset.filter(**{field: value}).first()
        if instance is not None:
            view.check_object_permissions(request, instance)
        serializer: Any = view.get_serializer(instance, data=data)
        serializer.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                saved = serializer.save()
        except IntegrityError:
            if instance is None:
                continue  # created by a concurrent request a moment ago: update it instead
            raise
        code = status.HTTP_200_OK if instance is not None else status.HTTP_201_CREATED
        return Response(view.get_serializer(saved).data, status=code)
    raise IntegrityError("upsert lost the race twice")
