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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api.serializers import UTCDateTimeField
from customers import selectors
from customers.contacts import format_phone_for_display
from customers.models import ContactPoint, Customer, Interest, Offer, Purchase
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

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)


@dataclass(frozen=True)
class CardSection:
    """One block of the card: its place, its template and the function that loads its data."""

    key: str
    title: str | Promise
    position: int
    template: str
    load: Callable[[CardContext], Mapping[str, Any]]
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

    def serialize(self, data: Mapping[str, Any], *, context: Mapping[str, Any]) -> Any:
        """The JSON-ready form of this section's loaded data."""
        return self.serializer(data, context=dict(context)).data


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
    data: Mapping[str, Any]

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
    return Customer.objects.prefetch_related("tags").get(pk=customer_id)


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
    contacts = list(context.customer.contact_points.all()[: CONTACTS_SHOWN + 1])
    for contact in contacts:
        phone_like = contact.kind == ContactPoint.Kind.PHONE or contact.normalised_value.startswith(
            "+"
        )
        contact.display = (  # type: ignore[attr-defined]
            format_phone_for_display(contact.normalised_value) if phone_like else contact.value
        )
    return {"contacts": contacts[:CONTACTS_SHOWN], "more": len(contacts) > CONTACTS_SHOWN}


def _purchases(context: CardContext) -> Mapping[str, Any]:
    return {
        "expiring": selectors.expiring_purchases(
            context.customer.pk, today=context.today, limit=EXPIRING_SHOWN
        ),
        "latest": selectors.purchase_page(
            context.customer.pk, today=context.today, offset=0, limit=PURCHASES_SHOWN
        ),
        "count": Purchase.objects.filter(customer=context.customer).count(),
        "warning_days": settings.CRM_EXPIRY_WARNING_DAYS,
    }


def _interests(context: CardContext) -> Mapping[str, Any]:
    open_interests = Interest.objects.filter(
        customer=context.customer, status=Interest.Status.OPEN
    ).select_related("product")
    return {
        "interests": list(open_interests[:INTERESTS_SHOWN]),
        "count": open_interests.count(),
    }


def _offers(context: CardContext) -> Mapping[str, Any]:
    made = Offer.objects.filter(customer=context.customer).select_related("product", "operator")
    return {
        "recommendations": recommend(
            context.customer, now=context.now, limit=settings.CRM_CARD_OFFERS
        ),
        "made": list(made[:OFFERS_SHOWN]),
        "made_count": made.count(),
    }


def _timeline(context: CardContext) -> Mapping[str, Any]:
    page = selectors.timeline_page(context.customer.pk, offset=0, limit=TIMELINE_SHOWN)
    return {"page": page}


# --- JSON forms of the customers app's sections ------------------------------------------------


def api_list_url(context: Mapping[str, Any], route_name: str, **query: Any) -> str:
    """The URL of an API list filtered by `query`: absolute in a request, a path otherwise."""
    url = reverse(route_name) + "?" + "&".join(f"{key}={value}" for key, value in query.items())
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


class CardProductSerializer(serializers.Serializer):
    """A product as card items name it."""

    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    price = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()


class _TagNames(serializers.ListField):
    """Tag names, read from the tags `load_customer` prefetched."""

    def get_attribute(self, instance: Customer) -> list[str]:
        return [tag.name for tag in instance.tags.all()]


class CardIdentitySerializer(serializers.Serializer):
    """Who this is: the customer's identity (read from the context: the section loads nothing)."""

    id = serializers.IntegerField()
    full_name = serializers.CharField()
    kind = serializers.CharField()
    company = serializers.CharField(allow_blank=True)
    external_id = serializers.CharField(allow_blank=True)
    segment = serializers.CharField()
    lifecycle = serializers.CharField()
    is_anonymised = serializers.BooleanField()
    acquisition_channel = serializers.CharField(allow_blank=True)
    acquisition_campaign = serializers.CharField(allow_blank=True)
    customer_since = serializers.DateField()
    language = serializers.CharField()
    time_zone = serializers.CharField(allow_blank=True)
    preferred_channel = serializers.CharField()
    consent_reminders = serializers.BooleanField()
    consent_marketing = serializers.BooleanField()
    tags = _TagNames(child=serializers.CharField())
    notes = serializers.CharField(allow_blank=True)

    def to_representation(self, instance: Any) -> Any:
        return super().to_representation(self.context["customer"])


class CardContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    value = serializers.CharField()
    normalised_value = serializers.CharField()
    display = serializers.CharField(help_text="As the card shows it (phones formatted).")
    messenger = serializers.CharField(allow_blank=True)
    label = serializers.CharField(allow_blank=True)  # type: ignore[assignment]
    is_primary = serializers.BooleanField()
    opted_out_at = UTCDateTimeField(allow_null=True)


class CardContactsSerializer(serializers.Serializer):
    """Every phone, email and messenger handle, primary first."""

    contacts = CardContactSerializer(many=True)
    more = serializers.BooleanField(help_text="More contacts than shown: see `all_url`.")
    all_url = serializers.SerializerMethodField()

    def get_all_url(self, data: Mapping[str, Any]) -> str:
        return api_list_url(self.context, "contactpoint-list", customer=self.context["customer"].pk)


class CardTermSerializer(serializers.Serializer):
    """A warranty, support contract or subscription and how far its end is."""

    kind = serializers.CharField(help_text="warranty, support or subscription")
    label = serializers.CharField()  # type: ignore[assignment]
    ends_on = serializers.DateField()
    days_left = serializers.IntegerField(help_text="Negative once the term has ended.")
    level = serializers.CharField(help_text="ended, urgent, soon or ok")


class CardReminderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    due_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True)
    sent_at = UTCDateTimeField(allow_null=True)


class CardPurchaseLineSerializer(serializers.Serializer):
    """A purchase with its terms (days left) and the reminders sent or planned about them."""

    id = serializers.IntegerField(source="purchase.pk")
    product = CardProductSerializer(source="purchase.product", allow_null=True)
    quantity = serializers.IntegerField(source="purchase.quantity")
    amount = serializers.DecimalField(source="purchase.amount", max_digits=14, decimal_places=2)
    currency = serializers.CharField(source="purchase.currency")
    channel = serializers.CharField(source="purchase.channel")
    status = serializers.CharField(source="purchase.status")
    purchased_at = UTCDateTimeField(source="purchase.purchased_at")
    warranty_ends_on = serializers.DateField(source="purchase.warranty_ends_on", allow_null=True)
    support_ends_on = serializers.DateField(source="purchase.support_ends_on", allow_null=True)
    subscription_ends_on = serializers.DateField(
        source="purchase.subscription_ends_on", allow_null=True
    )
    terms = CardTermSerializer(many=True)
    reminders = CardReminderSerializer(many=True)


class CardPurchasesSerializer(serializers.Serializer):
    """Terms ending soon first, then the latest purchases."""

    expiring = CardPurchaseLineSerializer(many=True)
    latest = CardPurchaseLineSerializer(many=True)
    count = serializers.IntegerField()
    warning_days = serializers.IntegerField()
    all_url = serializers.SerializerMethodField()

    def get_all_url(self, data: Mapping[str, Any]) -> str:
        return api_list_url(self.context, "purchase-list", customer=self.context["customer"].pk)


class CardInterestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = CardProductSerializer(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    quantity = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    occurred_at = UTCDateTimeField()


class CardInterestsSerializer(serializers.Serializer):
    """Open interests: asked about, carted, quoted or viewed, and not bought."""

    interests = CardInterestSerializer(many=True)
    count = serializers.IntegerField()


class CardRecommendationSerializer(serializers.Serializer):
    rule = serializers.CharField(source="kind")
    product = CardProductSerializer()
    reason = serializers.CharField()
    score = serializers.FloatField()
    purchase_id = serializers.IntegerField(allow_null=True)
    interest_id = serializers.IntegerField(allow_null=True)


class CardOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = CardProductSerializer(allow_null=True)
    rule = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    offered_at = UTCDateTimeField()
    responded_at = UTCDateTimeField(allow_null=True)
    operator = serializers.SerializerMethodField()

    def get_operator(self, offer: Offer) -> str | None:
        return _person(offer.operator)


class CardOffersSerializer(serializers.Serializer):
    """Next best offers with their reasons, and the offers already made."""

    recommendations = CardRecommendationSerializer(many=True)
    made = CardOfferSerializer(many=True)
    made_count = serializers.IntegerField()


class CardTimelineItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    channel = serializers.CharField()
    direction = serializers.CharField()
    started_at = UTCDateTimeField()
    answered_at = UTCDateTimeField(allow_null=True)
    ended_at = UTCDateTimeField(allow_null=True)
    summary = serializers.CharField(allow_blank=True)
    operator = serializers.SerializerMethodField()
    personalized = serializers.BooleanField()
    is_abandoned = serializers.BooleanField()

    def get_operator(self, interaction: Any) -> str | None:
        return _person(interaction.operator)


class CardTimelineSerializer(serializers.Serializer):
    """The newest interactions; the rest through `more_url` (the interactions list)."""

    items = CardTimelineItemSerializer(many=True, source="page.items")
    count = serializers.IntegerField(source="page.count")
    next_offset = serializers.IntegerField(
        source="page.next_offset",
        allow_null=True,
        help_text="Offset of the next page in the card's own timeline; null on the last page.",
    )
    more_url = serializers.SerializerMethodField()

    def get_more_url(self, data: Mapping[str, Any]) -> str:
        return api_list_url(self.context, "interaction-list", customer=self.context["customer"].pk)


def _person(user: Any) -> str | None:
    """A user as the card names them: full name, else username; None for nobody."""
    if user is None:
        return None
    return str(user.get_full_name() or user.get_username())


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
