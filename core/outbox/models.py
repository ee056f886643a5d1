"""The fields every outbound message shares: its delivery state, its claim, its attempts."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.choices import ChoiceLabels


class DeliveryStatus(models.TextChoices):
    """Where a message is on its way out; `sent` means the provider accepted it."""

    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


# The states a message may still leave in: the sweep's and the claim's partial indexes cover them.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class OutboxMessage(ChoiceLabels, models.Model):
    """An abstract outbound message: mix it into a model to send its rows through the outbox.

    `idempotency_key` is made once with the row and handed to the provider on every attempt, so
    a provider that deduplicates drops a repeat; `claimed_at` and `claim_token` say which worker
    holds the message now and since when (its lease); `sent_at` is when the provider accepted it,
    never anything else.
    """

    DeliveryStatus = DeliveryStatus

    delivery_status = models.CharField(
        _("delivery"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("delivery attempts"), default=0)
    # Not before: set by quiet hours, a future due day, or the back-off after a failed attempt.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # The start of the current attempt (or of the claim of a batch); with the token, the lease.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True, editable=False)
    claim_token = models.UUIDField(_("claim token"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    idempotency_key = models.UUIDField(
        _("idempotency key"), default=uuid.uuid4, unique=True, editable=False
    )

    class Meta:
        abstract = True

    @property
    def is_open(self) -> bool:
        return self.delivery_status in OPEN_STATUSES


def outbox_constraints(prefix: str) -> list[models.BaseConstraint]:
    """The invariants of an outbox table, named after it: sent has a time, sending a claim."""
    return [
        models.CheckConstraint(
            condition=~Q(delivery_status="sent") | Q(sent_at__isnull=False),
            name=f"{prefix}_sent_has_time",
            violation_error_message=_("A sent message has a sending time."),
        ),
        models.CheckConstraint(
            condition=~Q(delivery_status="sending")
            | Q(claimed_at__isnull=False, claim_token__isnull=False),
            name=f"{prefix}_sending_has_claim",
            violation_error_message=_("A message being sent has a claim."),
        ),
    ]


def outbox_indexes(prefix: str) -> list[models.Index]:
    """The indexes the claim and the sweep read: open rows by next attempt and by claim time."""
    return [
        models.Index(
            fields=["next_attempt_at"],
            condition=Q(delivery_status="pending"),
            name=f"{prefix}_due_idx",
        ),
        models.Index(
            fields=["claimed_at"],
            condition=Q(delivery_status="sending"),
            name=f"{prefix}_claimed_idx",
        ),
    ]
