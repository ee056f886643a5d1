from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    """Service metrics computed in the database, and their daily snapshots."""

    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        from customers.merge import register_derived
        from metrics import card, purchase_days_upkeep, rollup_invalidation
        from metrics.models import PurchaseDay

        # Not moved by a merge: rebuilt by purchase_days_upkeep on the merge's rows_written.
        register_derived(PurchaseDay)
        card.register()
        purchase_days_upkeep.connect()
        rollup_invalidation.connect()
