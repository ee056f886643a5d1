from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    """CSAT, NPS and CES surveys: definitions, invitations and the customers' answers."""

    name = "surveys"
    verbose_name = _("Surveys")

    def ready(self) -> None:
        from surveys import card

        card.register()
