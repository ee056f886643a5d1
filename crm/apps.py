from django.apps import AppConfig


class CrmConfig(AppConfig):
    """The project itself: cross-app commands (demo data) and the home page."""

    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from auditlog import get_logentry_model
        from django.db.models.signals import pre_save

        from core.audit import fill_entry, track_own_fields_only
        from crm import history, privacy_card

        pre_save.connect(fill_entry, sender=get_logentry_model(), dispatch_uid="core.audit.fill")
        track_own_fields_only()
        history.register()
        privacy_card.register()
