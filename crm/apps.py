from django.apps import AppConfig


class CrmConfig(AppConfig):
    """The project itself: cross-app commands (demo data) and the home page."""

    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from crm import privacy_card

        privacy_card.register()
