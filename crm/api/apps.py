from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The REST API's own records: idempotency keys of POST requests."""

    name = "crm.api"
    label = "crm_api"
    verbose_name = _("API")
