"""Bulk creation of purchases and interests: all items or none, errors keyed by item index.

Referenced customers and products are read in one query each, whatever the batch size, and
the rows are written with one `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from customers.dates import validate_past_moment
from customers.models import (
    Channel,
    Customer,
    CustomerAlias,
    Interest,
    Product,
    Purchase,
    SalesChannel,
)
from customers.purchases import write_purchases
from customers.signals import instance_rows, send_rows_written

# PositiveIntegerField's range on every supported database.
MAX_QUANTITY = 2_147_483_647


class BulkRequestSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.DictField(),
        allow_empty=False,
        help_text=_("The records to create; at most API_BULK_MAX_ITEMS."),
    )

    def validate_items(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = settings.API_BULK_MAX_ITEMS
        if len(value) > limit:
            raise serializers.ValidationError(
                _("Send at most %(limit)d items per request.") % {"limit": limit}
            )
        return value


class _ReferenceFields(serializers.Serializer):
    """A customer by `customer` (id) or `customer_external_id`; a product by id or SKU."""

    customer = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    customer_external_id = serializers.CharField(required=False, max_length=100)
    product = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    product_sku = serializers.CharField(required=False, max_length=64)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_QUANTITY)
    currency = serializers.CharField(required=False, min_length=3, max_length=3)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "customer" not in attrs and "customer_external_id" not in attrs:
            raise serializers.ValidationError(
                {"customer": [_("Give the customer's id or customer_external_id.")]}
            )
        return attrs


class PurchaseItemSerializer(_ReferenceFields):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0))
    channel = serializers.ChoiceField(choices=SalesChannel.choices, required=False)
    status = serializers.ChoiceField(choices=Purchase.Status.choices, required=False)
    purchased_at = serializers.DateTimeField(required=False, validators=[validate_past_moment])


class InterestItemSerializer(_ReferenceFields):
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    kind = serializers.ChoiceField(choices=Interest.Kind.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.ChoiceField(choices=Interest.Status.choices, required=False)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal(0), required=False, allow_null=True
    )
    occurred_at = serializers.DateTimeField(required=False, validators=[validate_past_moment])
    closed_at = serializers.DateTimeField(
        required=False, allow_null=True, validators=[validate_past_moment]
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if (
            not attrs.get("product")
            and not attrs.get("product_sku")
            and not attrs.get("description")
        ):
            raise serializers.ValidationError(
                {"product": [_("Name the product or describe the interest.")]}
            )
        return attrs


class BulkRefused(Exception):
    """Some items were refused; `errors` maps an item index to its field errors."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _validate_items(
    items: Sequence[dict[str, Any]], serializer_class: type[serializers.Serializer]
) -> tuple[list[dict[str, Any]], dict[int, dict[str, list[str]]]]:
    valid: list[dict[str, Any]] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, item in enumerate(items):
        serializer = serializer_class(data=item)
        if serializer.is_valid():
            valid.append(dict(serializer.validated_data))
        else:
            errors[index] = {
                field: [str(message) for message in messages]
                for field, messages in serializer.errors.items()
            }
            valid.append({})
    return valid, errors


def _resolve_references(
    items: list[dict[str, Any]],
    errors: dict[int, dict[str, list[str]]],
    model: type[Purchase] | type[Interest],
) -> None:
    """Replace customer and product references by ids, one query per model; note misses."""
    customer_ids = {item["customer"] for item in items if "customer" in item}
    customer_refs = {
        item["customer_external_id"] for item in items if "customer_external_id" in item
    }
    product_ids = {item["product"] for item in items if item.get("product")}
    skus = {item["product_sku"] for item in items if item.get("product_sku")}
    external_ids = [item["external_id"] for item in items if item.get("external_id")]

    customers_by_id: set[int] = set()
    customers_by_ref: dict[str, int] = {}
    if customer_ids or customer_refs:
        for pk, external_id in Customer.objects.filter(
            Q(pk__in=customer_ids) | Q(external_id__in=customer_refs)
        ).values_list("pk", "external_id"):
            customers_by_id.add(pk)
            customers_by_ref[external_id] = pk
    if missing := customer_refs - customers_by_ref.keys():
        # A customer merged into another: its old external ID names the survivor.
        customers_by_ref.update(
            CustomerAlias.objects.filter(external_id__in=missing).values_list(
                "external_id", "customer_id"
            )
        )
    products: dict[int, Product] = {}
    products_by_sku: dict[str, Product] = {}
    if product_ids or skus:
        for found in Product.objects.filter(Q(pk__in=product_ids) | Q(sku__in=skus)):
            products[found.pk] = found
            products_by_sku[found.sku] = found
    taken = set(
        model.objects.filter(external_id__in=external_ids).values_list("external_id", flat=True)
    )

    seen: set[str] = set()
    for index, item in enumerate(items):
        if index in errors:
            continue
        problems: dict[str, list[str]] = {}
        if "customer" in item:
            if item["customer"] not in customers_by_id:
                problems["customer"] = [_("No customer has this id.")]
            item["customer_id"] = item.pop("customer")
            item.pop("customer_external_id", None)
        else:
            ref = item.pop("customer_external_id")
            if ref not in customers_by_ref:
                problems["customer_external_id"] = [_("No customer has this external ID.")]
            item["customer_id"] = customers_by_ref.get(ref)
        product: Product | None = None
        if item.get("product"):
            product = products.get(item["product"])
            if product is None:
                problems["product"] = [_("No product has this id.")]
        elif item.get("product_sku"):
            product = products_by_sku.get(item["product_sku"])
            if product is None:
                problems["product_sku"] = [_("No product has this SKU.")]
        item.pop("product", None)
        item.pop("product_sku", None)
        item["product"] = product
        external_id = item.get("external_id") or ""
        if external_id:
            if external_id in taken:
                problems["external_id"] = [_("A record with this external ID already exists.")]
            elif external_id in seen:
                problems["external_id"] = [_("This external ID is given twice in the request.")]
            seen.add(external_id)
        if problems:
            errors[index] = problems


@transaction.atomic
def bulk_create_purchases(*, items: Sequence[dict[str, Any]]) -> list[Purchase]:
    """Create every purchase or none; raise BulkRefused naming the bad items."""
    valid, errors = _validate_items(items, PurchaseItemSerializer)
    _resolve_references(valid, errors, Purchase)
    if errors:
        raise BulkRefused(errors)
    now = timezone.now()
    return write_purchases(purchases=[Purchase(**{"purchased_at": now, **item}) for item in valid])


@transaction.atomic
def bulk_create_interests(*, items: Sequence[dict[str, Any]]) -> list[Interest]:
    """Create every interest (abandoned cart, quote, view) or none; errors name the items."""
    valid, errors = _validate_items(items, InterestItemSerializer)
    _resolve_references(valid, errors, Interest)
    if errors:
        raise BulkRefused(errors)
    now = timezone.now()
    interests = []
    for item in valid:
        interest = Interest(**{"occurred_at": now, **item})
        if interest.status == Interest.Status.OPEN:
            interest.closed_at = None
        elif interest.closed_at is None:
            interest.closed_at = now
        interests.append(interest)
    created = Interest.objects.bulk_create(interests)
    send_rows_written(Interest, instance_rows(created))
    return created
