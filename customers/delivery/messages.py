"""Rendering a message for a route: email (subject, text, HTML) or a short text for SMS/chat."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from customers.delivery.backends import OutgoingMessage
from customers.delivery.routing import Route
from customers.delivery.unsubscribe import unsubscribe_url
from customers.models import Channel


def render_message(
    *,
    route: Route,
    language: str,
    template_prefix: str,
    context: dict[str, Any],
    idempotency_key: str,
) -> OutgoingMessage:
    """Render `<prefix>_subject.txt`, `<prefix>.txt`, `<prefix>.html` or `<prefix>_short.txt`.

    Emails carry the unsubscribe link in the body and as List-Unsubscribe headers (RFC 8058
    one-click); short messages carry only what fits an SMS.
    """
    contact = route.contact
    with translation.override(language):
        if route.channel == Channel.EMAIL:
            link = unsubscribe_url(contact)
            full = {**context, "unsubscribe_url": link}
            subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", full).split())
            return OutgoingMessage(
                channel=route.channel,
                to=contact.value,
                subject=subject,
                text=render_to_string(f"{template_prefix}.txt", full),
                html=render_to_string(f"{template_prefix}.html", full),
                headers={
                    "List-Unsubscribe": f"<{link}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
                idempotency_key=idempotency_key,
            )
        text = " ".join(render_to_string(f"{template_prefix}_short.txt", context).split())
        return OutgoingMessage(
            channel=route.channel,
            to=contact.normalised_value,
            text=text,
            messenger=contact.messenger,
            idempotency_key=idempotency_key,
        )
