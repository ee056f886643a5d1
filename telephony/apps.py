from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TelephonyConfig(AppConfig):
    """Calls reported by the PBX: the events endpoint, the call records, the caller log."""

    name = "telephony"
    verbose_name = _("Telephony")

    def ready(self) -> None:
        from telephony import live

        live.connect()
