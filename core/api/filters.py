"""The API's filter backend: django-filter, strict about every parameter it knows.

django-filter ignores a value its form cannot read (`?unassigned=maybe` reads as "any") and an
empty one (`?updated_since=`), which would answer the whole list to a client that meant to
filter it. Here such a parameter is a 400 naming it (`code: invalid_parameter`), on every list.
The filter sets stay lenient for the operator UI, whose forms send empty values for "any".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from core.api.exceptions import InvalidParameter


def _is_free_text(filter_: django_filters.Filter) -> bool:
    return isinstance(filter_, django_filters.CharFilter) and not isinstance(
        filter_, django_filters.ChoiceFilter
    )


def parameter_errors(filterset: django_filters.FilterSet, params: Any) -> dict[str, list[str]]:
    """Messages per parameter: values the filter set refused, and values it would ignore."""
    errors: dict[str, list[str]] = {
        name: [str(message) for message in messages] for name, messages in filterset.errors.items()
    }
    cleaned = getattr(filterset.form, "cleaned_data", {})
    for name, filter_ in filterset.filters.items():
        if name in errors or name not in params or _is_free_text(filter_):
            continue
        if isinstance(filterset.form.fields[name].widget, forms.MultiWidget):
            continue  # read from suffixed parameters, checked by its own form field
        values = params.getlist(name)
        if any(not value.strip() for value in values):
            errors[name] = [_("Give a value, or leave the parameter out.")]
        elif cleaned.get(name) in (None, "", [], ()):
            if isinstance(filter_, django_filters.BooleanFilter):
                errors[name] = [_("Use true or false.")]
            else:
                errors[name] = [_("“%(value)s” is not a valid value.") % {"value": values[0]}]
    return errors


def _in_utc(value: Any) -> Any:
    """An aware time as UTC; ranges (slices) part by part. Python takes offsets up to 24 h,
    PostgreSQL none beyond 15:59, so a time is sent to the database in UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    if isinstance(value, slice):
        return slice(_in_utc(value.start), _in_utc(value.stop), value.step)
    return value


class StrictFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that refuses every parameter it cannot honour (400)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        filterset.is_valid()
        errors = parameter_errors(filterset, request.query_params)
        if errors:
            raise InvalidParameter(errors)
        cleaned = filterset.form.cleaned_data
        for name, value in cleaned.items():
            cleaned[name] = _in_utc(value)
        return filterset.qs
