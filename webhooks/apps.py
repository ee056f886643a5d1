from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Webhooks an admin registers, and the record of every delivery."""

    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from core.outbox.registry import register
        from webhooks import receivers
        from webhooks.services import WEBHOOKS

        receivers.connect()
        register(WEBHOOKS)
