"""core.choices: get_FOO_display() from a table built once gives Django's own answers."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.utils import translation

from core.choices import ChoiceLabels
from customers.models import Interaction


def _models_with_labels() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if issubclass(m, ChoiceLabels)]


def test_the_card_models_use_the_table() -> None:
    names = {m.__name__ for m in _models_with_labels()}

    assert {"Customer", "Purchase", "Interaction", "Ticket", "Reminder"} <= names


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_label_is_djangos_in_the_active_language(language: str) -> None:
    with translation.override(language):
        for model in _models_with_labels():
            for field in model._meta.concrete_fields:
                if not field.choices:
                    continue
                for value, _label in field.flatchoices:
                    row = model(**{field.attname: value})
                    ours = getattr(row, f"get_{field.name}_display")()
                    djangos = getattr(models.Model, "_get_FIELD_display")(row, field)  # noqa: B009
                    assert ours == djangos, (model, field)


def test_the_label_follows_the_language_shown_not_the_first_one_asked() -> None:
    row = Interaction(channel="phone")
    with translation.override("en"):
        english = row.get_channel_display()
    with translation.override("ru"):
        russian = row.get_channel_display()

    assert english != russian


def test_a_value_outside_the_choices_is_shown_as_it_is() -> None:
    assert Interaction(channel="carrier-pigeon").get_channel_display() == "carrier-pigeon"
