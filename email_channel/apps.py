from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailChannelConfig(AppConfig):
    """Email as a ticket channel: mailboxes, inbound ingest, replies sent by email."""

    name = "email_channel"
    verbose_name = _("Email")

    def ready(self) -> None:
        from core.outbox.registry import register
        from email_channel import receivers
        from email_channel.outbound import TICKET_REPLIES
        from tickets.extensions import register_message_extension

        receivers.connect()
        # Ticket replies are the outbox's fourth kind (after reminders, invitations, webhooks).
        register(TICKET_REPLIES)
        # The ticket page loads each message's email record and shows its delivery state,
        # Cc and the quoted history folded.
        register_message_extension(related="email", partial="email_channel/_message_email.html")
