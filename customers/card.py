"""The customer card: one page built from sections that any app may contribute.

`customers` knows no other app of the project, yet the card shows tickets and survey answers.
So the card is a registry: each app registers its `CardSection`s (and `CardAction`s) from its
AppConfig.ready(), each with an explicit `position` (PRODUCT.md's order: identity 10, contacts
20, tickets 30, purchases 40, interests 50, offers 60, satisfaction 70, metrics 75, timeline 80).
A section loads its own data with its own bounded queries; `customer_card()` runs them in order.

Every section also has a JSON form, for the API (`GET /api/v1/customers/{id}/card/`): its
`serializer`, a DRF serializer class given the data its `load` returned, so the page and the
API show the same loaded data and one definition of the card serves both. The serializer is
required (a `CardSection` without one cannot be built) and is also the section's OpenAPI
schema. Its context holds `customer`, `now` and, in a request, `request`; a section whose data
does not carry the customer (identity) reads it from there. Times are written in ISO 8601 UTC
(`core.api.serializers.UTCDateTimeField`), money as decimal strings beside their currency.
Each app keeps its sections' serializers in its API module (the customers app's in
`customers/api/card.py`, with `api_list_url`), its actions' views, forms and URLs where its
other views, forms and URLs live.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from customers import selectors
from customers.api.card import (
    CardContactsSerializer,
    CardIdentitySerializer,
    CardInterestsSerializer,
    CardOffersSerializer,
    CardPurchasesSerializer,
    CardTimelineSerializer,
)
from customers.models import Customer, Interest, Offer
from customers.recommendations import recommend

# How many items each customers-side section shows before its "all N" link.
CONTACTS_SHOWN = 12
PURCHASES_SHOWN = 6
EXPIRING_SHOWN = 5
INTERESTS_SHOWN = 5
OFFERS_SHOWN = 5
TIMELINE_SHOWN = 10
# Sections placed before this position sit above the action bar (identity, contacts).
HEAD_BEFORE = 30
# The widths a section may take in the card's grid (six columns on a wide screen).
WIDTHS = ("full", "two-thirds", "half", "third")


@dataclass(frozen=True)
class CardContext:
    """What a section's loader is given: the customer, who looks, and when."""

    customer: Customer
    user: Any
    now: dt.datetime
    # What more than one section reads, read once per card (see value_to_date).
    _shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)

    def value_to_date(self) -> list[selectors.HistoricalValue]:
        """The customer's value to date by currency (`selectors.historical_value`): the
        satisfaction section shows it and the predicted value starts from it, one
        aggregate over all the customer's purchases for both."""
        if "value_to_date" not in self._shared:
            self._shared["value_to_date"] = selectors.historical_value(
                self.customer.pk, now=self.now
            )
        return self._shared["value_to_date"]


@dataclass(frozen=True)
class CardSection:
    """One block of the card: its place, its template and the function that loads its data."""

    key: str
    title: str | Promise
    position: int
    template: str
    # Returns the section's data: a dataclass (or a mapping) whose rows are dataclasses too,
    # never model instances with attributes attached.
    load: Callable[[CardContext], Any]
    # The JSON form of what `load` returned (the API's card); also its OpenAPI schema.
    serializer: type[serializers.BaseSerializer]
    width: str = "half"
    # A user without this permission ("app.codename") does not see the section.
    permission: str = ""

    def __post_init__(self) -> None:
        if self.width not in WIDTHS:
            raise ImproperlyConfigured(f"Card section {self.key!r}: width must be one of {WIDTHS}")
        if not (
            isinstance(self.serializer, type)
            and issubclass(self.serializer, serializers.BaseSerializer)
        ):
            raise ImproperlyConfigured(
                f"Card section {self.key!r}: serializer must be a DRF serializer class giving "
                "the JSON form of the section's data"
            )

    def serialize(self, data: Any, *, context: Mapping[str, Any]) -> Any:
        """The JSON-ready form of this section's loaded data.

        Through one serializer of this section per thread, its fields bound once: DRF
        deep-copies every declared field (nested ones too) for each serializer it makes, a
        third of the card API's own work. Only its context changes per call; its fields read
        the context when they run, and keep nothing of the data.
        """
        serializers_here = _thread_serializers.__dict__.setdefault("by_section", {})
        serializer = serializers_here.get(self.key)
        if serializer is None or type(serializer) is not self.serializer:
            serializer = serializers_here[self.key] = self.serializer()
        serializer._context = dict(context)
        try:
            return serializer.to_representation(data)
        finally:
            serializer._context = {}


@dataclass(frozen=True)
class CardAction:
    """A button of the card's action bar: opens a form in place (URL name taking customer_id)."""

    key: str
    label: str | Promise
    position: int
    url_name: str
    permission: str = ""
    # Sections whose content the action changes: re-rendered in place after it succeeds.
    refreshes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedSection:
    """A section with the data it loaded for one customer."""

    section: CardSection
    data: Any

    @property
    def key(self) -> str:
        return self.section.key


@dataclass
class CustomerCard:
    """Everything the card page shows for one customer, section by section."""

    customer: Customer
    now: dt.datetime
    sections: list[RenderedSection] = field(default_factory=list)
    actions: list[CardAction] = field(default_factory=list)

    def section(self, key: str) -> RenderedSection | None:
        return next((s for s in self.sections if s.key == key), None)

    @property
    def head_sections(self) -> list[RenderedSection]:
        """Who this is (identity, contacts): above the action bar."""
        return [s for s in self.sections if s.section.position < HEAD_BEFORE]

    @property
    def body_sections(self) -> list[RenderedSection]:
        return [s for s in self.sections if s.section.position >= HEAD_BEFORE]

    def serialize(self, *, request: Any = None) -> dict[str, Any]:
        """Every section's JSON form, keyed by section key, in card order (no query of its own
        beyond what the sections' data already holds)."""
        context = {"customer": self.customer, "now": self.now, "request": request}
        return {s.key: s.section.serialize(s.data, context=context) for s in self.sections}


# Each thread's bound serializers, one per section (CardSection.serialize).
_thread_serializers = threading.local()

_SECTIONS: dict[str, CardSection] = {}
_ACTIONS: dict[str, CardAction] = {}


def register_section(section: CardSection) -> None:
    """Add a section to every card; registering the same key again replaces it."""
    _SECTIONS[section.key] = section


def register_action(action: CardAction) -> None:
    """Add a button to the card's action bar; registering the same key again replaces it."""
    _ACTIONS[action.key] = action


def card_sections() -> list[CardSection]:
    """Every registered section, in card order."""
    return sorted(_SECTIONS.values(), key=lambda s: (s.position, s.key))


def card_actions() -> list[CardAction]:
    """Every registered action, in bar order."""
    return sorted(_ACTIONS.values(), key=lambda a: (a.position, a.key))


def section_keys() -> list[str]:
    """The keys of every registered section, in card order (what `only=` may name)."""
    return [section.key for section in card_sections()]


def _allowed(user: Any, permission: str) -> bool:
    return not permission or bool(user.has_perm(permission))


def load_customer(customer_id: int) -> Customer:
    """The customer with their tags; raises Customer.DoesNotExist."""
    return selectors.card_customer(customer_id)


def customer_card(
    customer_id: int, *, user: Any, now: dt.datetime, only: tuple[str, ...] | None = None
) -> CustomerCard:
    """The card of a customer as `user` may see it at `now`; `only` limits it to some sections.

    Raises Customer.DoesNotExist. Each section runs a fixed number of queries, so the card's
    query count does not grow with the customer's history.
    """
    customer = load_customer(customer_id)
    return build_card(customer, user=user, now=now, only=only)


def build_card(
    customer: Customer, *, user: Any, now: dt.datetime, only: tuple[str, ...] | None = None
) -> CustomerCard:
    """The card of an already loaded customer (see customer_card)."""
    context = CardContext(customer=customer, user=user, now=now)
    card = CustomerCard(customer=customer, now=now)
    for section in card_sections():
        if only is not None and section.key not in only:
            continue
        if not _allowed(user, section.permission):
            continue
        card.sections.append(RenderedSection(section=section, data=section.load(context)))
    card.actions = [a for a in card_actions() if _allowed(user, a.permission)]
    return card


# --- The customers app's own sections -----------------------------------------------------------


def _identity(context: CardContext) -> Mapping[str, Any]:
    return {}


def _contacts(context: CardContext) -> Mapping[str, Any]:
    contacts = selectors.card_contacts(context.customer.pk, limit=CONTACTS_SHOWN + 1)
    return {
        "contacts": selectors.contact_rows(contacts[:CONTACTS_SHOWN]),
        "more": len(contacts) > CONTACTS_SHOWN,
    }


def _purchases(context: CardContext) -> Mapping[str, Any]:
    expiring, latest, count = selectors.card_purchases(
        context.customer.pk, today=context.today, expiring=EXPIRING_SHOWN, latest=PURCHASES_SHOWN
    )
    return {
        "expiring": expiring,
        "latest": latest,
        "count": count,
        "warning_days": settings.CRM_EXPIRY_WARNING_DAYS,
    }


def _open_interests(customer_id: int) -> QuerySet[Interest]:
    return Interest.objects.filter(
        customer_id=customer_id, status=Interest.Status.OPEN
    ).select_related("product")


def _offers_made(customer_id: int) -> QuerySet[Offer]:
    return Offer.objects.filter(customer_id=customer_id).select_related("product", "operator")


def _interests(context: CardContext) -> Mapping[str, Any]:
    open_interests = selectors.customer_page(
        "open interests", _open_interests, context.customer.pk, offset=0, limit=INTERESTS_SHOWN
    )
    return {"interests": open_interests.items, "count": open_interests.count}


def _offers(context: CardContext) -> Mapping[str, Any]:
    made = selectors.customer_page(
        "offers made", _offers_made, context.customer.pk, offset=0, limit=OFFERS_SHOWN
    )
    return {
        "recommendations": recommend(
            context.customer, now=context.now, limit=settings.CRM_CARD_OFFERS
        ),
        "made": made.items,
        "made_count": made.count,
    }


def _timeline(context: CardContext) -> Mapping[str, Any]:
    page = selectors.timeline_page(context.customer.pk, offset=0, limit=TIMELINE_SHOWN)
    return {"page": page}


register_section(
    CardSection(
        key="identity",
        title=_("Customer"),
        position=10,
        template="customers/card/identity.html",
        load=_identity,
        serializer=CardIdentitySerializer,
        width="two-thirds",
    )
)
register_section(
    CardSection(
        key="contacts",
        title=_("Contacts"),
        position=20,
        template="customers/card/contacts.html",
        load=_contacts,
        serializer=CardContactsSerializer,
        width="third",
    )
)
register_section(
    CardSection(
        key="purchases",
        title=_("Purchases"),
        position=40,
        template="customers/card/purchases.html",
        load=_purchases,
        serializer=CardPurchasesSerializer,
        width="half",
        permission="customers.view_purchase",
    )
)
register_section(
    CardSection(
        key="interests",
        title=_("Abandoned interests"),
        position=50,
        template="customers/card/interests.html",
        load=_interests,
        serializer=CardInterestsSerializer,
        width="third",
        permission="customers.view_interest",
    )
)
register_section(
    CardSection(
        key="offers",
        title=_("Next best offers"),
        position=60,
        template="customers/card/offers.html",
        load=_offers,
        serializer=CardOffersSerializer,
        width="third",
        permission="customers.view_offer",
    )
)
register_section(
    CardSection(
        key="timeline",
        title=_("Timeline"),
        position=80,
        template="customers/card/timeline.html",
        load=_timeline,
        serializer=CardTimelineSerializer,
        width="full",
        permission="customers.view_interaction",
    )
)
register_action(
    CardAction(
        key="log_contact",
        label=_("Log contact"),
        position=10,
        url_name="customers:log_contact",
        permission="customers.add_interaction",
        refreshes=("timeline",),
    )
)
register_action(
    CardAction(
        key="add_note",
        label=_("Add note"),
        position=30,
        url_name="customers:add_note",
        permission="customers.add_interaction",
        refreshes=("timeline",),
    )
)
register_action(
    CardAction(
        key="record_offer",
        label=_("Record offer"),
        position=40,
        url_name="customers:record_offer",
        permission="customers.add_offer",
        refreshes=("offers",),
    )
)
register_action(
    CardAction(
        key="add_contact",
        label=_("Add contact"),
        position=60,
        url_name="customers:add_contact",
        permission="customers.add_contactpoint",
        refreshes=("contacts",),
    )
)
register_action(
    CardAction(
        key="merge_duplicate",
        label=_("Merge duplicate"),
        position=90,
        url_name="customers:merge_duplicate",
        permission="customers.merge_customer",
    )
)
