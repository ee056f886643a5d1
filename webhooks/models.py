"""A webhook is a URL that wants some events; a delivery is one event sent (or tried) there."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.outbox.models import OutboxMessage, outbox_constraints, outbox_indexes
from webhooks.targets import UnsafeTarget, resolve

SECRET_BYTES = 32


def generate_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


class Event(models.TextChoices):
    CUSTOMER_CREATED = "customer.created", _("Customer created")
    CUSTOMER_UPDATED = "customer.updated", _("Customer updated")
    CUSTOMER_MERGED = "customer.merged", _("Customer merged")
    TICKET_CREATED = "ticket.created", _("Ticket created")
    TICKET_STATUS_CHANGED = "ticket.status_changed", _("Ticket status changed")
    SURVEY_ANSWERED = "survey.answered", _("Survey answered")


class Webhook(models.Model):
    """An endpoint of another system that receives the events it subscribed to."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(
        _("events"), default=list, help_text=_("The events sent to this URL.")
    )
    secret = models.CharField(
        _("secret"),
        max_length=100,
        default=generate_secret,
        help_text=_("Signs every delivery (HMAC-SHA256); share it with the receiver."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def clean(self) -> None:
        events = self.events if isinstance(self.events, list) else None
        if not events or not set(events) <= set(Event.values):
            raise ValidationError(
                {
                    "events": _("Choose one or more of: %(events)s.")
                    % {"events": ", ".join(Event.values)}
                }
            )
        if self.url:
            # Resolved now and again at every delivery (webhooks/targets.py): no SSRF.
            try:
                resolve(self.url)
            except UnsafeTarget as exc:
                raise ValidationError({"url": str(exc)}) from exc

    def wants(self, event: str) -> bool:
        return self.is_active and event in (self.events or [])


class WebhookDelivery(OutboxMessage):
    """One event for one webhook, sent through the outbox (core/outbox), with the outcome of
    its last attempt. `sent_at` is when the receiver answered 2xx."""

    webhook = models.ForeignKey(
        Webhook, verbose_name=_("webhook"), on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    response_status = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    response_body = models.TextField(_("response (start)"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = outbox_constraints("webhook_delivery")
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="webhook_delivery_hook_idx"),
            *outbox_indexes("webhook_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook}"
