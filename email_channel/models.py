"""Mailboxes, the email messages that came in or went out through them, and quarantined mail.

Each inbound message is recorded once per mailbox by its Message-ID (a unique constraint the
database holds), which is what makes ingest exactly-once whichever way the mail arrived (IMAP,
a provider's webhook, a local MTA pipe) and however many pollers run.
"""

from __future__ import annotations

import os

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.outbox.models import DeliveryStatus, OutboxMessage, outbox_constraints, outbox_indexes
from tickets.models import Ticket, TicketMessage


class Mailbox(models.Model):
    """An address customers write to, the team its tickets go to, and how to fetch its mail."""

    name = models.SlugField(_("name"), max_length=50, unique=True)
    address = models.EmailField(_("address"), unique=True)
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mailboxes",
    )
    is_active = models.BooleanField(_("active"), default=True)
    imap_host = models.CharField(
        _("IMAP host"), max_length=255, blank=True, help_text=_("Empty: no polling.")
    )
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_tls = models.BooleanField(_("IMAP over TLS"), default=True)
    imap_user = models.CharField(_("IMAP user"), max_length=255, blank=True)
    imap_secret_env = models.CharField(
        _("password variable"),
        max_length=100,
        blank=True,
        help_text=_("Name of the environment variable that holds the IMAP password."),
    )
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, default="INBOX")
    imap_done_folder = models.CharField(
        _("move ingested mail to"),
        max_length=255,
        blank=True,
        help_text=_("Empty: ingested mail stays in the folder, flagged."),
    )
    # The poller's place in the folder: UIDs are only meaningful within one UIDVALIDITY.
    imap_uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), null=True, blank=True)
    imap_last_uid = models.BigIntegerField(_("last ingested UID"), default=0)
    last_polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>"

    @property
    def polls_imap(self) -> bool:
        return bool(self.is_active and self.imap_host)

    def imap_password(self) -> str:
        """The IMAP password from the environment variable the admin named (never stored)."""
        return os.environ.get(self.imap_secret_env, "") if self.imap_secret_env else ""


class EmailMessage(OutboxMessage):
    """One email that came into a mailbox or that the product sent from it.

    An outbound one is a message of the outbox (kind "ticket_reply"): its delivery state,
    attempts, failure reason (`last_error`) and sending time are the outbox's fields. An inbound
    one is recorded `skipped` for the outbox: there is nothing to send.
    """

    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        AUTO_REPLY = "auto_reply", _("Auto-reply")
        BOUNCE = "bounce", _("Delivery failure report")

    mailbox = models.ForeignKey(
        Mailbox, verbose_name=_("mailbox"), on_delete=models.PROTECT, related_name="messages"
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MESSAGE)
    message_id = models.CharField(_("Message-ID"), max_length=500)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=500, blank=True)
    references = models.TextField(_("References"), blank=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    reply_to_address = models.CharField(_("reply to"), max_length=254, blank=True)
    to_addresses = models.JSONField(_("to"), default=list, blank=True)
    cc_addresses = models.JSONField(_("Cc"), default=list, blank=True)
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="emails",
    )
    ticket_message = models.OneToOneField(
        TicketMessage,
        verbose_name=_("ticket message"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="email",
    )
    # The quoted history and signature separated from the new text, shown folded.
    quoted_text = models.TextField(_("quoted history and signature"), blank=True)
    # A delivery failure report (DSN) naming this outbound mail came back; the reason is in
    # `last_error`.
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    imap_uid = models.BigIntegerField(_("IMAP UID"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("email message")
        verbose_name_plural = _("email messages")
        constraints = [
            # Exactly once: a second delivery of the same mail to the same mailbox is refused.
            models.UniqueConstraint(
                fields=["mailbox", "message_id"],
                condition=Q(direction="in"),
                name="email_inbound_once_per_mailbox",
            ),
            models.UniqueConstraint(
                fields=["message_id"],
                condition=Q(direction="out"),
                name="email_outbound_message_id_unique",
            ),
            *outbox_constraints("email"),
        ]
        indexes = [
            # Threading: WHERE message_id IN (In-Reply-To, References...).
            models.Index(fields=["message_id"], name="email_message_id_idx"),
            *outbox_indexes("email"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.message_id}"

    @property
    def delivery_badge(self) -> str:
        """What the ticket page shows of an outbound mail: queued, sent, failed or bounced."""
        if self.bounced_at is not None:
            return "bounced"
        if self.delivery_status == DeliveryStatus.SENT:
            return "sent"
        if self.delivery_status in (DeliveryStatus.FAILED, DeliveryStatus.CANCELLED):
            return "failed"
        return "queued"

    @property
    def delivery_badge_label(self) -> str:
        return str(DELIVERY_BADGE_LABELS[self.delivery_badge])


DELIVERY_BADGE_LABELS = {
    "queued": _("Queued"),
    "sent": _("Sent"),
    "failed": _("Failed"),
    "bounced": _("Bounced"),
}


class OutboundEmailManager(models.Manager["OutboundEmail"]):
    def get_queryset(self) -> models.QuerySet[OutboundEmail]:
        return super().get_queryset().filter(direction=EmailMessage.Direction.OUTBOUND)


class OutboundEmail(EmailMessage):
    """The outbox's view of the mail: outbound rows only (inbound ones are never sent)."""

    objects = OutboundEmailManager()  # type: ignore[misc]  # narrower than the parent's

    class Meta:
        proxy = True
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")


class QuarantinedEmail(models.Model):
    """Mail that could not be ingested, kept raw with the reason until an admin re-ingests it."""

    mailbox = models.ForeignKey(
        Mailbox, verbose_name=_("mailbox"), on_delete=models.PROTECT, related_name="quarantine"
    )
    raw = models.BinaryField(_("raw message"))
    reason = models.TextField(_("reason"))
    message_id = models.CharField(_("Message-ID"), max_length=500, blank=True)
    from_header = models.CharField(_("from"), max_length=500, blank=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    reingested_at = models.DateTimeField(_("re-ingested at"), null=True, blank=True)
    email = models.ForeignKey(
        EmailMessage,
        verbose_name=_("ingested as"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("quarantined email")
        verbose_name_plural = _("quarantined emails")

    def __str__(self) -> str:
        return f"{self.subject or self.message_id or self.pk}: {self.reason[:60]}"
