"""Channel backends: email through Django's mail framework; SMS and messenger pluggable.

A backend sends one `OutgoingMessage` and returns the provider's message id. It raises
`TemporaryDeliveryError` for what may work later (timeouts, 5xx, rate limits) and
`PermanentDeliveryError` for what never will (a rejected address); the outbox (core/outbox)
retries the first kind with back-off and ends the route at once on the second.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.module_loading import import_string

from core.outbox.errors import DeliveryError, PermanentDeliveryError, TemporaryDeliveryError
from customers.models import Channel

logger = logging.getLogger(__name__)

# HTTP statuses a provider uses for "try again later": timeout, too many requests.
RETRYABLE_HTTP_STATUSES = frozenset({408, 425, 429})
SERVER_ERROR_MIN = 500


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one address; `idempotency_key` (the same on every attempt) lets a
    provider drop a repeat, and makes the email's Message-ID."""

    channel: str
    to: str
    text: str
    subject: str = ""
    html: str = ""
    messenger: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""


__all__ = ["DeliveryError", "PermanentDeliveryError", "TemporaryDeliveryError"]


def message_id_domain() -> str:
    """The right-hand side of our Message-IDs: the sender's domain, so replies thread to us."""
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "crm.invalid"


class ChannelBackend(Protocol):
    def send(self, message: OutgoingMessage) -> str: ...


class EmailBackend:
    """Email through Django's mail framework (settings.MAILERS), plain text plus HTML."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def send(self, message: OutgoingMessage) -> str:
        message_id = f"<{message.idempotency_key or uuid.uuid4().hex}@{message_id_domain()}>"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={**message.headers, "Message-ID": message_id},
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        try:
            email.send()
        except (OSError, TimeoutError) as exc:  # SMTP errors are OSError subclasses
            raise TemporaryDeliveryError(f"email: {exc}") from exc
        return message_id


class LoggingBackend:
    """Writes the message to the log instead of sending it: the default for SMS/messenger."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def send(self, message: OutgoingMessage) -> str:
        logger.info("%s to %s: %s", message.channel, message.to, message.text)
        return f"log-{message.idempotency_key or uuid.uuid4().hex}"


class JSONHTTPBackend:
    """An SMS or messenger gateway's JSON API: POST {to, text, sender} with a bearer token.

    This is the common shape of SMS gateways (and of messenger relays such as a WhatsApp
    Business or Telegram bot proxy); the `Idempotency-Key` header lets a gateway that
    supports it drop a repeat after a crash between its acceptance and our bookkeeping.
    The answer's `id` (or `message_id`) is the provider's id.
    """

    def __init__(
        self, *, url: str = "", token: str = "", sender: str = "", timeout: int = 10, **_: Any
    ) -> None:
        if not url:
            raise PermanentDeliveryError("the gateway URL is not configured")
        self.url = url
        self.token = token
        self.sender = sender
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> str:
        payload: dict[str, str] = {"to": message.to, "text": message.text}
        if self.sender:
            payload["sender"] = self.sender
        if message.messenger:
            payload["messenger"] = message.messenger
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if message.idempotency_key:
            headers["Idempotency-Key"] = message.idempotency_key
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = f"{message.channel} gateway answered {exc.code}"
            if exc.code >= SERVER_ERROR_MIN or exc.code in RETRYABLE_HTTP_STATUSES:
                raise TemporaryDeliveryError(detail) from exc
            raise PermanentDeliveryError(detail) from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"{message.channel} gateway: {exc}") from exc
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        return str(answer.get("id") or answer.get("message_id") or "")


def get_backend(channel: str) -> ChannelBackend:
    """The configured backend for a delivery channel."""
    if channel == Channel.EMAIL:
        return EmailBackend()
    if channel == Channel.SMS:
        return import_string(settings.SMS_BACKEND)(**settings.SMS_OPTIONS)
    if channel == Channel.MESSENGER:
        return import_string(settings.MESSENGER_BACKEND)(**settings.MESSENGER_OPTIONS)
    raise PermanentDeliveryError(f"no backend for channel {channel!r}")
