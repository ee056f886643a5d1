"""The JSON forms of the customers app's card sections (the API's card,
`GET /api/v1/customers/{id}/card/`), and `api_list_url` for a section's "all N" link.

Each serializer is given what its section's loader returned (customers/card.py); its context
holds `customer`, `now` and, in a request, `request`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from rest_framework import serializers

from core.api.serializers import PlainRowSerializer, UTCDateTimeField
from customers.models import Customer, Offer


def api_list_url(context: Mapping[str, Any], route_name: str, **query: Any) -> str:
    """The URL of an API list filtered by `query`: absolute in a request, a path otherwise."""
    url = reverse(route_name) + "?" + "&".join(f"{key}={value}" for key, value in query.items())
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


class CardProductSerializer(PlainRowSerializer):
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


class CardContactSerializer(PlainRowSerializer):
    """A contact row (`customers.selectors.ContactRow`): the contact point and its display."""

    id = serializers.IntegerField(source="contact.id")
    kind = serializers.CharField(source="contact.kind")
    value = serializers.CharField(source="contact.value")
    normalised_value = serializers.CharField(source="contact.normalised_value")
    display = serializers.CharField(help_text="As the card shows it (phones formatted).")
    messenger = serializers.CharField(source="contact.messenger", allow_blank=True)
    label = serializers.CharField(source="contact.label", allow_blank=True)  # type: ignore[assignment]
    is_primary = serializers.BooleanField(source="contact.is_primary")
    opted_out_at = UTCDateTimeField(source="contact.opted_out_at", allow_null=True)
    bouncing_since = UTCDateTimeField(
        source="contact.bouncing_since",
        allow_null=True,
        help_text="Mail to this address came back undelivered since then.",
    )


class CardContactsSerializer(serializers.Serializer):
    """Every phone, email and messenger handle, primary first."""

    contacts = CardContactSerializer(many=True)
    more = serializers.BooleanField(help_text="More contacts than shown: see `all_url`.")
    all_url = serializers.SerializerMethodField()

    def get_all_url(self, data: Mapping[str, Any]) -> str:
        return api_list_url(self.context, "contactpoint-list", customer=self.context["customer"].pk)


class CardTermSerializer(PlainRowSerializer):
    """A warranty, support contract or subscription and how far its end is."""

    kind = serializers.CharField(help_text="warranty, support or subscription")
    label = serializers.CharField()  # type: ignore[assignment]
    ends_on = serializers.DateField()
    days_left = serializers.IntegerField(help_text="Negative once the term has ended.")
    level = serializers.CharField(help_text="ended, urgent, soon or ok")


class CardReminderSerializer(PlainRowSerializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    channel = serializers.CharField()
    delivery_status = serializers.CharField()
    due_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True)
    sent_at = UTCDateTimeField(allow_null=True)


class CardPurchaseLineSerializer(PlainRowSerializer):
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


class CardInterestSerializer(PlainRowSerializer):
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


class CardRecommendationSerializer(PlainRowSerializer):
    rule = serializers.CharField(source="kind")
    product = CardProductSerializer()
    reason = serializers.CharField()
    score = serializers.FloatField()
    purchase_id = serializers.IntegerField(allow_null=True)
    interest_id = serializers.IntegerField(allow_null=True)


class CardOfferSerializer(PlainRowSerializer):
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


class CardTimelineItemSerializer(PlainRowSerializer):
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
