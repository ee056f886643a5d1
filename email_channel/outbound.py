"""An operator's public reply on an email ticket, mailed to the customer so the thread holds.

`queue_ticket_reply` records the outbound mail (pending in the outbox) in the transaction that
stored the reply; the outbox (kind "ticket_reply", registered in EmailChannelConfig.ready) claims
it, calls `send_ticket_reply` and records the outcome with its one failure policy.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage as OutgoingMail
from django.utils.translation import gettext as _

from core.outbox.errors import PermanentDeliveryError, TemporaryDeliveryError
from core.outbox.models import DeliveryStatus
from core.outbox.policy import error_text
from core.outbox.registry import Decision, Hold, OutboxKind, Send
from customers.models import ContactPoint
from email_channel.models import EmailMessage, Mailbox, OutboundEmail
from email_channel.services import TICKET_TOKEN_RE
from tickets.models import Ticket, TicketMessage

logger = logging.getLogger(__name__)

# A References header longer than this many ids keeps the first and the latest (RFC 5322 3.6.4
# allows trimming; clients thread on the first and the last ones).
MAX_REFERENCES = 20
KIND = "ticket_reply"


def ticket_mailbox(ticket: Ticket) -> tuple[Mailbox | None, EmailMessage | None]:
    """The mailbox the ticket's mail goes through and the latest inbound mail on it."""
    latest = (
        EmailMessage.objects.filter(ticket=ticket, direction=EmailMessage.Direction.INBOUND)
        .select_related("mailbox")
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is not None:
        return latest.mailbox, latest
    if ticket.channel != "email":
        return None, None
    mailboxes = Mailbox.objects.filter(is_active=True).order_by("id")
    return (mailboxes.filter(team=ticket.team_id).first() or mailboxes.first()), None


def reply_subject(ticket: Ticket, subject: str) -> str:
    """ "Re: [#42] ..." once, whatever the customer's client made of the subject."""
    subject = subject or ticket.subject
    if not TICKET_TOKEN_RE.search(subject):
        subject = f"[#{ticket.pk}] {subject}"
    if not subject.lower().startswith(("re:", "re :")):
        subject = f"Re: {subject}"
    return subject[:500]


def _thread_headers(ticket: Ticket) -> tuple[str, str]:
    """In-Reply-To and References continuing the ticket's thread."""
    ids: list[str] = []
    for references, message_id in (
        EmailMessage.objects.filter(ticket=ticket)
        .values_list("references", "message_id")
        .order_by("created_at", "id")
    ):
        for mid in [*references.split(), f"<{message_id}>"]:
            if mid not in ids:
                ids.append(mid)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return (ids[-1] if ids else ""), " ".join(ids)


def _recipient(ticket: Ticket, latest: EmailMessage | None) -> str:
    if latest is not None:
        return latest.reply_to_address or latest.from_address
    contact = (
        ContactPoint.objects.filter(customer=ticket.customer_id, kind=ContactPoint.Kind.EMAIL)
        .order_by("-is_primary", "id")
        .first()
    )
    return contact.normalised_value if contact else ""


def queue_ticket_reply(*, message: TicketMessage) -> EmailMessage | None:
    """Record an operator's public reply as mail to send (the caller sends it after commit).

    Only for tickets that have a mailbox (came by email or are on the email channel); a reply
    with no address to go to is recorded as failed, so the operator sees it did not leave.
    """
    if message.author_kind != TicketMessage.Author.OPERATOR or message.is_internal:
        return None
    ticket = message.ticket
    mailbox, latest = ticket_mailbox(ticket)
    if mailbox is None:
        return None
    in_reply_to, references = _thread_headers(ticket)
    recipient = _recipient(ticket, latest)
    own = set(Mailbox.objects.values_list("address", flat=True))
    cc = sorted(
        {
            address
            for addresses in EmailMessage.objects.filter(ticket=ticket).values_list(
                "cc_addresses", flat=True
            )
            for address in addresses or []
            if address not in own and address != recipient
        }
    )
    email = EmailMessage.objects.create(
        mailbox=mailbox,
        direction=EmailMessage.Direction.OUTBOUND,
        delivery_status=DeliveryStatus.PENDING if recipient else DeliveryStatus.FAILED,
        last_error="" if recipient else _("The customer has no email address."),
        message_id=make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN).strip("<>"),
        in_reply_to=in_reply_to[:500],
        references=references,
        subject=reply_subject(ticket, latest.subject if latest else ticket.subject),
        from_address=mailbox.address,
        to_addresses=[recipient] if recipient else [],
        cc_addresses=cc,
        ticket=ticket,
        ticket_message=message,
        created_at=message.created_at,
    )
    return email


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def send_ticket_reply(email: EmailMessage, payload: object, now: dt.datetime) -> None:
    """The outbox's send for a ticket reply: hand the recorded mail to the SMTP server.

    The Message-ID is the one recorded with the row (what threading matches the customer's
    answer against), so a mail handed over again after a crash threads as the same message.
    A 5xx answer is permanent (the message fails with the server's reason); a 4xx answer, a
    dropped connection or a timeout is temporary (the outbox tries again with back-off).
    """
    message = email.ticket_message
    mail = OutgoingMail(
        subject=email.subject,
        body=message.body if message else "",
        from_email=email.mailbox.address,
        to=email.to_addresses,
        cc=email.cc_addresses,
        headers={
            "Message-ID": f"<{email.message_id}>",
            **({"In-Reply-To": email.in_reply_to} if email.in_reply_to else {}),
            **({"References": email.references} if email.references else {}),
        },
    )
    for attachment in message.attachments.all() if message else []:
        with attachment.file.open("rb") as handle:
            mail.attach(attachment.filename, handle.read(), attachment.content_type)
    try:
        mail.send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("reply mail %s not sent: %s", email.message_id, exc)
        if _is_permanent(exc):
            raise PermanentDeliveryError(error_text(exc)) from exc
        raise TemporaryDeliveryError(error_text(exc)) from exc
    return None


def prepare_ticket_reply(email: EmailMessage, now: dt.datetime) -> Decision:
    if not email.to_addresses:
        return Hold(DeliveryStatus.FAILED, _("The customer has no email address."))
    return Send()


TICKET_REPLIES = OutboxKind(
    name=KIND,
    model=OutboundEmail,
    prepare=prepare_ticket_reply,
    send=send_ticket_reply,
    select_related=("mailbox", "ticket_message"),
)
