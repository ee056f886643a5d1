"""Inbound email: one service behind every way mail comes in (IMAP, provider webhooks, a pipe).

`ingest_email` parses, finds the customer and the ticket, stores the message with its
attachments, and records it once per mailbox by Message-ID. Mail it cannot take is kept raw
in the quarantine with the reason; `reingest_quarantined` tries again after a fix.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.contacts import InvalidContact, normalise_email
from customers.models import AcquisitionChannel, Channel, ContactPoint, Customer, Interaction
from customers.services import create_customer
from email_channel.models import EmailMessage, Mailbox, QuarantinedEmail
from email_channel.parsing import ParsedAttachment, ParsedEmail, UnparseableEmail, parse_email
from email_channel.replies import split_reply
from surveys.sentiment import classify as classify_sentiment
from tickets.models import Ticket, TicketAttachment, TicketContact, TicketMessage
from tickets.services import add_message, open_ticket, record_customer_contact

logger = logging.getLogger(__name__)

# "[#42]" in a subject: the ticket token every reply the product sends carries.
TICKET_TOKEN_RE = re.compile(r"\[#(\d{1,12})\]")
# A forward's quoted part is the request itself: it is kept, not folded away.
FORWARD_SUBJECT_RE = re.compile(r"^\s*(?:fwd?|fw|пересл|переслано)\s*:", re.IGNORECASE)
# Content types a browser may show inline; anything else is served as a download.
INLINE_SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class IngestResult:
    """What became of one raw message."""

    outcome: str  # "ticket", "duplicate", "auto_reply", "bounce", "quarantined"
    email: EmailMessage | None = None
    quarantined: QuarantinedEmail | None = None

    @property
    def ticket_id(self) -> int | None:
        return self.email.ticket_id if self.email else None


def own_message_id_domain() -> str:
    """The domain of the Message-IDs the product generates (mail with it is our own loop)."""
    return str(settings.EMAIL_MESSAGE_ID_DOMAIN)


def ingest_email(raw: bytes, *, mailbox: Mailbox, imap_uid: int | None = None) -> IngestResult:
    """Take one raw message into `mailbox`: a ticket message, an auto-reply or bounce record,
    a duplicate ignored, or a quarantine entry. Never raises for bad mail."""
    try:
        parsed = parse_email(raw, own_domain=own_message_id_domain())
    except UnparseableEmail as exc:
        return IngestResult(
            "quarantined", quarantined=quarantine(raw, mailbox=mailbox, reason=str(exc))
        )
    try:
        return _store(parsed, mailbox=mailbox, imap_uid=imap_uid)
    except IntegrityError:
        # Another poller or webhook stored the same Message-ID first: exactly once.
        existing = EmailMessage.objects.filter(
            mailbox=mailbox, direction=EmailMessage.Direction.INBOUND, message_id=parsed.message_id
        ).first()
        if existing is None:
            raise
        return IngestResult("duplicate", email=existing)
    except (ValidationError, ValueError, LookupError) as exc:
        logger.exception("email %s could not be ingested", parsed.message_id)
        return IngestResult(
            "quarantined",
            quarantined=quarantine(raw, mailbox=mailbox, reason=f"{type(exc).__name__}: {exc}"),
        )


def quarantine(raw: bytes, *, mailbox: Mailbox, reason: str) -> QuarantinedEmail:
    """Keep mail that could not be ingested, raw, with the reason (shown in the admin)."""
    head = raw[:16384].decode("utf-8", errors="replace")

    def header(name: str) -> str:
        match = re.search(rf"^{name}:[ \t]*(.*)$", head, flags=re.IGNORECASE | re.MULTILINE)
        return match.group(1).strip()[:500] if match else ""

    logger.warning("email quarantined in %s: %s", mailbox.name, reason)
    return QuarantinedEmail.objects.create(
        mailbox=mailbox,
        raw=raw,
        reason=reason,
        message_id=header("Message-ID"),
        from_header=header("From"),
        subject=header("Subject"),
    )


@transaction.atomic
def reingest_quarantined(*, item: QuarantinedEmail, actor: User | None) -> IngestResult:
    """Try a quarantined message again (after the bug or the mailbox setup was fixed)."""
    item = QuarantinedEmail.objects.select_for_update().get(pk=item.pk)
    if item.reingested_at is not None:
        return IngestResult("duplicate", email=item.email, quarantined=item)
    result = ingest_email(bytes(item.raw), mailbox=item.mailbox)
    if result.outcome != "quarantined":
        item.reingested_at = timezone.now()
        item.email = result.email
        item.save(update_fields=["reingested_at", "email"])
        logger.info("quarantined email %s re-ingested by %s", item.pk, actor)
    elif result.quarantined is not None:
        # The new attempt left its own entry with the current reason; keep one per message.
        item.reason = result.quarantined.reason
        item.save(update_fields=["reason"])
        result.quarantined.delete()
        result = IngestResult("quarantined", quarantined=item)
    return result


@transaction.atomic
def _store(parsed: ParsedEmail, *, mailbox: Mailbox, imap_uid: int | None) -> IngestResult:
    if EmailMessage.objects.filter(
        direction=EmailMessage.Direction.OUTBOUND, message_id=parsed.message_id
    ).exists():
        return IngestResult("duplicate")  # our own reply came back (a Bcc or a list)
    existing = EmailMessage.objects.filter(
        mailbox=mailbox, direction=EmailMessage.Direction.INBOUND, message_id=parsed.message_id
    ).first()
    if existing is not None:
        return IngestResult("duplicate", email=existing)
    # Claim the Message-ID first: a concurrent second ingest of the same mail fails here.
    record = EmailMessage.objects.create(
        mailbox=mailbox,
        direction=EmailMessage.Direction.INBOUND,
        delivery_status=EmailMessage.DeliveryStatus.SKIPPED,  # inbound: nothing to send
        message_id=parsed.message_id[:500],
        in_reply_to=" ".join(f"<{m}>" for m in parsed.in_reply_to)[:500],
        references=" ".join(f"<{m}>" for m in parsed.references),
        subject=parsed.subject[:500],
        from_address=parsed.from_address[:254],
        reply_to_address=parsed.reply_to_address[:254],
        to_addresses=parsed.to_addresses,
        cc_addresses=parsed.cc_addresses,
        imap_uid=imap_uid,
    )
    if parsed.is_bounce:
        record.kind = EmailMessage.Kind.BOUNCE
        record.save(update_fields=["kind"])
        _apply_bounce(parsed)
        return IngestResult("bounce", email=record)
    ticket, by_token = _thread_ticket(parsed)
    if parsed.is_auto_reply:
        # Kept for the record (and linked to its thread), but it never opens a ticket,
        # never reopens one and is never answered.
        record.kind = EmailMessage.Kind.AUTO_REPLY
        record.ticket = ticket
        record.save(update_fields=["kind", "ticket"])
        return IngestResult("auto_reply", email=record)
    customer = _find_or_create_customer(parsed)
    # Matched by the subject token only: anyone can type "[#42]"; only the ticket's customer
    # (or someone already on its thread) may write into it.
    if ticket is not None and by_token and not _may_write_to(ticket, parsed, customer):
        ticket = None
    if FORWARD_SUBJECT_RE.match(parsed.subject):
        new_text, quoted = parsed.text.strip(), ""
    else:
        new_text, quoted = split_reply(parsed.text)
    body = new_text or _("(no text)")
    kept, refused = _check_attachments(parsed.attachments)
    if refused:
        body += "\n\n" + "\n".join(refused)
    interaction = Interaction.objects.create(
        customer=customer,
        channel=Channel.EMAIL,
        direction=Interaction.Direction.INBOUND,
        contact_address=parsed.from_address[:255],
        summary=(parsed.subject or body)[:500],
        started_at=record.created_at,
    )
    if ticket is None:
        ticket = open_ticket(
            customer=customer,
            subject=(parsed.subject or _("(no subject)"))[:255],
            channel=Channel.EMAIL,
            body=body,
            interaction=interaction,
            team=mailbox.team,
            created_at=record.created_at,
        )
        message = ticket.messages.get()
    else:
        message = add_message(
            ticket=ticket,
            body=body,
            author_kind=TicketMessage.Author.CUSTOMER,
            channel=Channel.EMAIL,
            at=record.created_at,
        )
        if message.ticket_id == ticket.pk:
            record_customer_contact(ticket=ticket, interaction=interaction)
        else:  # the ticket was closed: add_message opened a follow-up
            ticket = message.ticket
            TicketContact.objects.create(ticket=ticket, interaction=interaction)
    _store_attachments(message, kept)
    if new_text:
        # The customer's own words only: quoted history and refusal notes are not their mood.
        message.sentiment = classify_sentiment(new_text)
        message.save(update_fields=["sentiment"])
    record.ticket = ticket
    record.ticket_message = message
    record.quoted_text = quoted
    record.save(update_fields=["ticket", "ticket_message", "quoted_text"])
    return IngestResult("ticket", email=record)


def _thread_ticket(parsed: ParsedEmail) -> tuple[Ticket | None, bool]:
    """The ticket this mail continues: by In-Reply-To / References, then by "[#n]" (True)."""
    ids = parsed.thread_ids
    if ids:
        known = (
            EmailMessage.objects.filter(message_id__in=ids, ticket__isnull=False)
            .select_related("ticket")
            .order_by("-created_at", "-id")
            .first()
        )
        if known is not None:
            return known.ticket, False
    match = TICKET_TOKEN_RE.search(parsed.subject)
    if match:
        return Ticket.objects.filter(pk=int(match.group(1))).first(), True
    return None, False


def _may_write_to(ticket: Ticket, parsed: ParsedEmail, customer: Customer) -> bool:
    if ticket.customer_id == customer.pk:
        return True
    sender = parsed.from_address
    for cc in EmailMessage.objects.filter(ticket=ticket).values_list("cc_addresses", flat=True):
        if sender in (cc or []):
            return True
    return False


def _find_or_create_customer(parsed: ParsedEmail) -> Customer:
    """The customer by the sender's normalised address, then Reply-To; else a new customer."""
    candidates = [a for a in (parsed.from_address, parsed.reply_to_address) if a]
    for address in candidates:
        try:
            normalised = normalise_email(address)
        except InvalidContact:
            continue
        contact = (
            ContactPoint.objects.filter(kind=ContactPoint.Kind.EMAIL, normalised_value=normalised)
            .select_related("customer")
            .order_by("id")
            .first()
        )
        if contact is not None:
            return contact.customer
    address = parsed.from_address
    name = parsed.from_name or address.split("@", 1)[0]
    return create_customer(
        full_name=name[:255],
        contact_points=[{"kind": ContactPoint.Kind.EMAIL, "value": address}],
        acquisition_channel=AcquisitionChannel.EMAIL,
    )


def _apply_bounce(parsed: ParsedEmail) -> None:
    """Mark the failed addresses as bouncing and the outbound mail that bounced as such."""
    now = timezone.now()
    if parsed.bounced_recipients:
        ContactPoint.objects.filter(
            kind=ContactPoint.Kind.EMAIL,
            normalised_value__in=parsed.bounced_recipients,
            bouncing_since__isnull=True,
        ).update(bouncing_since=now)
    if parsed.bounced_message_ids:
        EmailMessage.objects.filter(
            direction=EmailMessage.Direction.OUTBOUND, message_id__in=parsed.bounced_message_ids
        ).update(
            bounced_at=now,
            last_error=(parsed.bounce_reason or _("The recipient's server refused it."))[:2000],
        )


def sniff_content_type(payload: bytes, declared: str) -> str:
    """The content type by the bytes themselves; the declared type only for plain text."""
    kind = filetype.guess(payload[:8192])
    if kind is not None:
        return str(kind.mime)
    if declared.startswith("text/") and declared != "text/html":
        try:
            payload[:8192].decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            pass
    return "application/octet-stream"


def _check_attachments(
    attachments: list[ParsedAttachment],
) -> tuple[list[ParsedAttachment], list[str]]:
    limit = int(settings.EMAIL_ATTACHMENT_MAX_BYTES)
    kept, refused = [], []
    for attachment in attachments:
        if attachment.size > limit:
            refused.append(
                _("Attachment “%(name)s” (%(size)s) was not kept: over the %(limit)s limit.")
                % {
                    "name": attachment.filename,
                    "size": filesizeformat(attachment.size),
                    "limit": filesizeformat(limit),
                }
            )
        else:
            kept.append(attachment)
    return kept, refused


def _store_attachments(message: TicketMessage, attachments: list[ParsedAttachment]) -> None:
    for attachment in attachments:
        item = TicketAttachment(
            message=message,
            filename=attachment.filename[:255],
            content_type=sniff_content_type(attachment.payload, attachment.declared_type),
            size=attachment.size,
            content_id=attachment.content_id[:255],
            is_inline=attachment.is_inline,
        )
        item.file.save(
            attachment.filename or "attachment", ContentFile(attachment.payload), save=False
        )
        item.save()
