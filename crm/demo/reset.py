"""Finding, counting and removing demo data (and only demo data).

Purchases, tickets and most history are protected from deletion while something points at
them (`on_delete=PROTECT`), so removal goes from the leaves to the roots in one list.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.deletion import ProtectedError, RestrictedError

from crm.demo.markers import (
    CUSTOMER_ID_PREFIX,
    DEMO_NAME_PREFIX,
    DEMO_SKU_PREFIX,
    DEMO_SLUG_PREFIX,
    UNKNOWN_CALL_ID_PREFIX,
)
from customers.models import (
    ContactPoint,
    Customer,
    Interaction,
    Interest,
    Offer,
    Product,
    ProductCategory,
    Purchase,
    Reminder,
)
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tickets.models import SLAPolicy, Ticket, TicketEvent, TicketMessage


class DemoDataInUse(Exception):
    """Real data points at demo rows (a real purchase of a demo product): nothing was removed."""


def demo_customers() -> QuerySet[Customer]:
    """The customers seed_demo made."""
    return Customer.objects.filter(external_id__startswith=CUSTOMER_ID_PREFIX)


def demo_data_present() -> bool:
    """Whether seed_demo has run here (its customers or products are in the database)."""
    return (
        demo_customers().exists()
        or Product.objects.filter(sku__startswith=f"{DEMO_SKU_PREFIX}-").exists()
    )


def _demo_querysets() -> list[tuple[str, QuerySet[Any]]]:
    """Every kind of demo row, in an order in which each can be deleted."""
    customers = demo_customers()
    surveys = Survey.objects.filter(name__startswith=DEMO_NAME_PREFIX)
    return [
        (
            "survey responses",
            SurveyResponse.objects.filter(
                Q(invitation__customer__in=customers) | Q(invitation__survey__in=surveys)
            ),
        ),
        (
            "survey invitations",
            SurveyInvitation.objects.filter(Q(customer__in=customers) | Q(survey__in=surveys)),
        ),
        ("tickets", Ticket.objects.filter(customer__in=customers)),
        ("offers", Offer.objects.filter(customer__in=customers)),
        ("reminders", Reminder.objects.filter(customer__in=customers)),
        ("interests", Interest.objects.filter(customer__in=customers)),
        (
            "interactions",
            Interaction.objects.filter(
                Q(customer__in=customers) | Q(external_id__startswith=UNKNOWN_CALL_ID_PREFIX)
            ),
        ),
        ("purchases", Purchase.objects.filter(customer__in=customers)),
        ("customers", customers),
        ("products", Product.objects.filter(sku__startswith=f"{DEMO_SKU_PREFIX}-")),
        ("product categories", ProductCategory.objects.filter(slug__startswith=DEMO_SLUG_PREFIX)),
        ("surveys", surveys),
        ("SLA policies", SLAPolicy.objects.filter(name__startswith=DEMO_NAME_PREFIX)),
    ]


def demo_counts() -> dict[str, int]:
    """How many demo rows of each kind there are, for the command's summary and the tests."""
    customers = demo_customers()
    counts = {label: queryset.count() for label, queryset in _demo_querysets()}
    counts["contact points"] = ContactPoint.objects.filter(customer__in=customers).count()
    counts["ticket messages"] = TicketMessage.objects.filter(ticket__customer__in=customers).count()
    counts["ticket events"] = TicketEvent.objects.filter(ticket__customer__in=customers).count()
    return counts


def clear_demo_data() -> dict[str, int]:
    """Delete every demo row; return how many of each kind went. Staff and tags stay.

    Raises DemoDataInUse (and the caller's transaction rolls back) when real data refers to
    a demo product, survey or customer.
    """
    removed: dict[str, int] = {}
    for label, queryset in _demo_querysets():
        try:
            _total, by_model = queryset.delete()
        except (ProtectedError, RestrictedError) as exc:
            blockers = sorted({str(obj._meta.verbose_name_plural) for obj in exc.args[1]})
            raise DemoDataInUse(
                f"Cannot remove the demo {label}: other data refers to them "
                f"({', '.join(blockers)})."
            ) from exc
        removed[label] = by_model.get(queryset.model._meta.label, 0)
    return removed
