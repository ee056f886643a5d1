from django.apps import AppConfig


class CrmConfig(AppConfig):
    """The project itself: cross-app commands (demo data) and the home page."""

    name = "crm"
    verbose_name = "CRM"
