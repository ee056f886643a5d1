from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The REST API's own records: idempotency keys of POST requests."""

    name = "core.api"
    # The label of the days this app lived in crm/api: its migrations and table keep the name.
    label = "crm_api"
    verbose_name = _("API")

    def ready(self) -> None:
        from django.db import models
        from rest_framework import serializers

        from core.api.serializers import UTCDateTimeField

        # Every model time the API answers is RFC 3339 in UTC, in every ModelSerializer of
        # every app (tests/api/test_dates.py checks that no serializer writes another form).
        serializers.ModelSerializer.serializer_field_mapping[models.DateTimeField] = (
            UTCDateTimeField
        )
