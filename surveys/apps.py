from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    """CSAT, NPS and CES surveys: definitions, invitations and the customers' answers."""

    name = "surveys"
    verbose_name = _("Surveys")

    def ready(self) -> None:
        from surveys.receivers import on_ticket_status_changed
        from tickets.signals import ticket_status_changed

        ticket_status_changed.connect(
            on_ticket_status_changed, dispatch_uid="surveys.invite_after_ticket_resolved"
        )

        from django.db.models.signals import post_save

        from surveys.receivers import classify_customer_message
        from tickets.models import TicketMessage

        post_save.connect(
            classify_customer_message,
            sender=TicketMessage,
            dispatch_uid="surveys.classify_customer_message",
        )

        from core.outbox.registry import register
        from surveys import card, merge
        from surveys.delivery import INVITATIONS

        card.register()
        merge.register()
        register(INVITATIONS)
