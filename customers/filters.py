"""One filter set per customer-side resource, shared by the API lists (and any htmx list)."""

from __future__ import annotations

import django_filters as filters

from customers.models import (
    ContactPoint,
    Customer,
    Interaction,
    Interest,
    Offer,
    Product,
    Purchase,
    Reminder,
)


class CustomerFilter(filters.FilterSet):
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    tag = filters.CharFilter(field_name="tags__name", distinct=True)

    class Meta:
        model = Customer
        fields = [
            "kind",
            "segment",
            "lifecycle",
            "acquisition_channel",
            "preferred_channel",
            "external_id",
            "language",
        ]


class ContactPointFilter(filters.FilterSet):
    class Meta:
        model = ContactPoint
        fields = ["customer", "kind", "messenger", "is_primary"]


class ProductFilter(filters.FilterSet):
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Product
        fields = ["kind", "category", "is_active", "sku", "external_id", "currency"]


class PurchaseFilter(filters.FilterSet):
    purchased_after = filters.IsoDateTimeFilter(field_name="purchased_at", lookup_expr="gte")
    purchased_before = filters.IsoDateTimeFilter(field_name="purchased_at", lookup_expr="lt")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Purchase
        fields = ["customer", "product", "channel", "status", "external_id", "currency"]


class InterestFilter(filters.FilterSet):
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Interest
        fields = ["customer", "product", "kind", "channel", "status", "external_id"]


class InteractionFilter(filters.FilterSet):
    started_after = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Interaction
        fields = ["customer", "kind", "channel", "direction", "operator", "personalized"]


class OfferFilter(filters.FilterSet):
    offered_after = filters.IsoDateTimeFilter(field_name="offered_at", lookup_expr="gte")
    offered_before = filters.IsoDateTimeFilter(field_name="offered_at", lookup_expr="lt")

    class Meta:
        model = Offer
        fields = ["customer", "product", "rule", "status", "operator"]


class ReminderFilter(filters.FilterSet):
    due_after = filters.DateFilter(field_name="due_on", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_on", lookup_expr="lt")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Reminder
        fields = ["customer", "purchase", "kind", "channel", "delivery_status"]
