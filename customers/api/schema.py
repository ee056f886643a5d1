"""Choice sets of the OpenAPI schema that customers owns (drf-spectacular's
ENUM_NAME_OVERRIDES in settings refer to them by path)."""

from __future__ import annotations

from customers.models import DELIVERY_CHANNELS


def delivery_channel_choices() -> list[tuple[str, str]]:
    """The choice set of reminder and survey delivery channels, named once in the schema."""
    return [(channel.value, str(channel.label)) for channel in DELIVERY_CHANNELS]
