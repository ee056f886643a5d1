from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    """Service metrics computed in the database, and their daily snapshots."""

    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        from customers.merge import register_derived
        from metrics import card, purchase_days, rollup_invalidation
        from metrics.models import PurchaseDay

        # Rebuilt by purchase_days on the merge's rows_written of the moved purchases, not moved.
        register_derived(PurchaseDay)
        card.register()
        purchase_days.connect()
        rollup_invalidation.connect()
