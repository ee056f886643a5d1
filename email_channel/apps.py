from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailChannelConfig(AppConfig):
    """Email as a ticket channel: mailboxes, inbound ingest, replies sent by email."""

    name = "email_channel"
    verbose_name = _("Email")

    def ready(self) -> None:
        from email_channel import receivers
        from tickets.extensions import register_message_extension

        receivers.connect()
        # The ticket page loads each message's email record and shows its delivery state,
        # Cc and the quoted history folded.
        register_message_extension(related="email", partial="email_channel/_message_email.html")
