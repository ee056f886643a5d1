"""Serializer building blocks shared by the apps' API modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField, is_simple_callable
from rest_framework.relations import PKOnlyObject

from core.api.exceptions import django_error_to_dict


def raise_as_drf(exc: DjangoValidationError) -> None:
    """Re-raise a Django ValidationError as DRF's, keeping the field keys."""
    raise serializers.ValidationError(django_error_to_dict(exc)) from exc


class CleanModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that runs the model's own rules (`full_clean`) before saving.

    Check constraints and `clean()` then answer 400 with the field they name instead of
    reaching the database as an IntegrityError. Many-to-many fields are set after the save.
    """

    def _save_instance(
        self, instance: models.Model, validated_data: dict[str, Any]
    ) -> models.Model:
        many_to_many: dict[str, Any] = {}
        opts = instance._meta
        for name in list(validated_data):
            field = opts.get_field(name) if _has_field(opts, name) else None
            if field is not None and field.many_to_many:
                many_to_many[name] = validated_data.pop(name)
            else:
                setattr(instance, name, validated_data[name])
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        instance.save()
        for name, value in many_to_many.items():
            getattr(instance, name).set(value)
        return instance

    def create(self, validated_data: dict[str, Any]) -> Any:
        model: type[models.Model] = self.Meta.model
        return self._save_instance(model(), validated_data)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        return self._save_instance(instance, validated_data)


def _has_field(opts: Any, name: str) -> bool:
    try:
        opts.get_field(name)
    except Exception:  # noqa: BLE001 - FieldDoesNotExist and friends: not a model field
        return False
    return True


class UTCDateTimeField(serializers.DateTimeField):
    """A time written in RFC 3339 in UTC ("2026-05-01T07:00:00Z"), whatever zone the request
    runs in; read as DRF reads it (a time without an offset is in the site's zone).

    The one form of every time the API answers: every ModelSerializer maps the model's
    DateTimeField to it (core.api.apps), and declared fields use it. DRF's own field writes the
    site's zone, whose offset before 1880 is Moscow's mean solar time, +02:30:17, which
    RFC 3339 cannot express.
    """

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, dt.datetime) and timezone.is_aware(value):
            return value.astimezone(dt.UTC).isoformat().removesuffix("+00:00") + "Z"
        return super().to_representation(value)


@extend_schema_field(OpenApiTypes.INT)
class SecondsField(serializers.Field):
    """A timedelta as a whole number of seconds (negative for time over)."""

    def to_representation(self, value: dt.timedelta) -> int:
        return int(value.total_seconds())


class PlainRowSerializer(serializers.Serializer):
    """A read-only serializer for rows answered by the dozen (the API's card: tickets,
    purchases, timeline): the representation of DRF's `Serializer.to_representation`, read
    through a plan of (name, attribute path, field) made once per bound serializer.

    DRF asks each field for its attribute through `Field.get_attribute` (a try block, the
    source path walked, a callable check) and walks `_readable_fields` anew for every row: on
    the card of a long-standing customer that was most of the API's extra time over an
    ordinary card's (issue 18). Here the path is walked directly; where it fails (a missing
    key or attribute, a related row that does not exist), the field's own `get_attribute`
    decides, as DRF would (default, null, skipped). tests/core/test_plain_rows.py compares
    both on the card's rows.
    """

    def to_representation(self, instance: Any) -> dict[str, Any]:
        plan = self.__dict__.get("_row_plan")
        if plan is None:
            plan = self.__dict__["_row_plan"] = tuple(
                (
                    field.field_name,
                    tuple(field.source_attrs),
                    field,
                    field.to_representation,
                    _AS_THEY_ARE.get(type(field)),
                )
                for field in self._readable_fields
            )
        mapping = isinstance(instance, Mapping)
        row: dict[str, Any] = {}
        for name, path, field, represent, as_it_is in plan:
            try:
                if len(path) == 1:  # most fields: one attribute or key of the row
                    value = instance[path[0]] if mapping else getattr(instance, path[0])
                    if callable(value) and is_simple_callable(value):
                        value = value()
                else:
                    value = _walk(instance, path)
            except (KeyError, AttributeError, ObjectDoesNotExist):
                try:
                    value = field.get_attribute(instance)
                except SkipField:
                    continue
            if value is None or type(value) is as_it_is:
                row[name] = value
                continue
            if isinstance(value, PKOnlyObject):
                value = value if value.pk is not None else None
            row[name] = None if value is None else represent(value)
        return row


# Values these fields answer unchanged (`str(s)` is `s`, `int(i)` is `i`): not sent through
# `to_representation` (DRF's classes themselves, not subclasses, which may answer otherwise).
_AS_THEY_ARE: dict[type[serializers.Field], type] = {
    serializers.CharField: str,
    serializers.IntegerField: int,
    serializers.BooleanField: bool,
}


def _walk(instance: Any, path: tuple[str, ...]) -> Any:
    """`rest_framework.fields.get_attribute` without its error handling (the caller's)."""
    for attr in path:
        instance = instance[attr] if isinstance(instance, Mapping) else getattr(instance, attr)
        if callable(instance) and is_simple_callable(instance):
            instance = instance()
    return instance
