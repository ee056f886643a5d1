from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailChannelConfig(AppConfig):
    """Email as a ticket channel: mailboxes, inbound ingest, replies sent by email."""

    name = "email_channel"
    verbose_name = _("Email")

    def ready(self) -> None:
        from email_channel import receivers

        receivers.connect()
