from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    """Tickets, their messages and history, and SLA policies."""

    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from tickets import card, search

        card.register()
        search.install()
