from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    """Customers and their contacts, products, purchases, interests, interactions, offers."""

    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from core.outbox.registry import register
        from customers import co_purchases, tallies
        from customers.delivery.service import REMINDERS
        from customers.merge import register_derived
        from customers.models import CustomerTally, OwnedProduct, ValueToDate

        register(REMINDERS)
        # Not moved by a merge: rebuilt for the survivor on the merge's rows_written.
        register_derived(ValueToDate)
        register_derived(OwnedProduct)
        register_derived(CustomerTally)
        co_purchases.connect()
        tallies.connect()
