"""`get_FOO_display()` from a table of labels built once per field.

Django's own `Model._get_FIELD_display` builds a dict of the field's choices on every call,
hashing each (value, label) pair: every lazy label is translated just to be hashed, so one
display of a field with twelve channels costs twelve gettext lookups. The card shows such
labels on every row (a timeline row's channel, kind and direction; a purchase's status and
channel), which made them a visible share of the card's server time (issue 18). Here the
table maps each value to its label, still lazy, and is built once per field: the label is
translated once, when it is shown, in the language active then.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import Field, Model
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import get_language

_LABELS: dict[Field[Any, Any], dict[Any, Any]] = {}


def _labels(field: Field[Any, Any]) -> dict[Any, Any]:
    labels = _LABELS.get(field)
    if labels is None:
        labels = {make_hashable(value): label for value, label in field.flatchoices}
        _LABELS[field] = labels
    return labels


class ChoiceLabels:
    """A model mixin (listed before `models.Model`): the same `get_FOO_display()` answers,
    without the per-call rebuild. A field's choices are fixed when its model is defined."""

    def _get_FIELD_display(self, field: Field[Any, Any]) -> Any:
        value = getattr(self, field.attname)
        return force_str(_labels(field).get(make_hashable(value), value), strings_only=True)


def field_labels(
    model: type[Model], field_name: str, language: str | None = None
) -> dict[Any, str]:
    """Each value of a field's choices with its label in `language` (default: the active
    one), for code that prints many rows: translated once per field, language and process."""
    return _translated(model._meta.get_field(field_name), language or get_language())


@functools.lru_cache(maxsize=512)
def _translated(field: Field[Any, Any], language: str | None) -> dict[Any, str]:
    with translation.override(language):
        return {value: str(label) for value, label in _labels(field).items()}
