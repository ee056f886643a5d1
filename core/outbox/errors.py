"""What a send function raises: worth another attempt later, or never going to work."""

from __future__ import annotations

from collections.abc import Mapping


class DeliveryError(Exception):
    """A message could not be handed to the provider.

    `record` holds fields of the message row to save with the outcome (a webhook's response
    code and body, for instance).
    """

    def __init__(self, message: str = "", *, record: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.record = dict(record or {})


class TemporaryDeliveryError(DeliveryError):
    """Worth another attempt later (timeouts, 5xx, rate limits)."""


class PermanentDeliveryError(DeliveryError):
    """Will never succeed as it is (invalid address, rejected content)."""
