"""Mail providers' inbound webhooks (Mailgun, Postmark, SendGrid, Amazon SES, Brevo, ...)
through django-anymail: anymail verifies and normalises each provider's request, and its
`inbound` signal hands the message here, to the same ingest as IMAP and the MTA pipe."""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import AnymailInboundEvent

from email_channel.models import Mailbox
from email_channel.services import IngestResult, ingest_email

logger = logging.getLogger(__name__)


def mailbox_for(addresses: list[str]) -> Mailbox | None:
    """The mailbox among the recipients (envelope first); else the first active one."""
    wanted = [a.strip().lower() for a in addresses if a]
    by_address = {m.address.lower(): m for m in Mailbox.objects.filter(is_active=True)}
    for address in wanted:
        if address in by_address:
            return by_address[address]
    return Mailbox.objects.filter(is_active=True).order_by("id").first()


def ingest_inbound_event(
    sender: Any, *, event: AnymailInboundEvent, esp_name: str, **kwargs: Any
) -> IngestResult | None:
    """anymail's `inbound` signal: ingest the message into the mailbox it was sent to."""
    message = event.message
    if message is None:
        return None
    recipients = [getattr(message, "envelope_recipient", None) or ""]
    recipients += [str(address.addr_spec) for address in (message.to or []) + (message.cc or [])]
    mailbox = mailbox_for(recipients)
    if mailbox is None:
        logger.error("inbound mail from %s but no active mailbox to take it", esp_name)
        return None
    return ingest_email(message.as_bytes(), mailbox=mailbox)
