"""API view sets of the customers app (routes: crm/api_urls.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.users import acting_user
from core.api.exceptions import Conflict
from core.api.upsert import upsert
from core.api.viewsets import ModelViewSet, ReadOnlyViewSet
from customers import filters, services
from customers.api import serializers as s
from customers.api.bulk import (
    BulkRefused,
    BulkRequestSerializer,
    InterestItemSerializer,
    PurchaseItemSerializer,
    bulk_create_interests,
    bulk_create_purchases,
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

_KEY_PARAMETER = r"(?P<key>[^/]+)"


def _upsert_permissions(app: str, model: str) -> tuple[str, ...]:
    return (f"{app}.add_{model}", f"{app}.change_{model}")


BulkCreated = inline_serializer(
    "BulkCreated",
    {
        "created": serializers.IntegerField(),
        "ids": serializers.ListField(child=serializers.IntegerField()),
    },
)


BULK_REFUSED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        'Refused, nothing created. Item errors: {"items": {"<index>": {"<field>": ["..."]}}}; '
        'a malformed request: {"items": ["..."]}.'
    ),
)


def _bulk_response(create: Any, request: Request) -> Response:
    body = BulkRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    try:
        created = create(items=body.validated_data["items"])
    except BulkRefused as refused:
        raise serializers.ValidationError(
            {"items": {str(index): errs for index, errs in sorted(refused.errors.items())}}
        ) from refused
    return Response(
        {"created": len(created), "ids": [row.pk for row in created]},
        status=status.HTTP_201_CREATED,
    )


@extend_schema(tags=["customers"])
class CustomerViewSet(ModelViewSet):
    """Customers with their contact points. Deleting is refused once they have history;
    use erase for the right to erasure."""

    queryset = Customer.objects.prefetch_related("contact_points", "tags").order_by("-id")
    serializer_class = s.CustomerSerializer
    filterset_class = filters.CustomerFilter
    action_permissions = {"upsert": _upsert_permissions("customers", "customer")}
    upsert_lookups = {"upsert": "external_id"}

    @extend_schema(
        request=s.CustomerSerializer,
        responses={200: s.CustomerSerializer, 201: s.CustomerSerializer},
        description="Create or replace the customer with this external ID.",
    )
    @action(detail=False, methods=["put"], url_path=f"by-external-id/{_KEY_PARAMETER}")
    def upsert(self, request: Request, key: str) -> Response:
        return upsert(self, request, field="external_id", value=key)


@extend_schema(tags=["customers"])
class ContactPointViewSet(ModelViewSet):
    queryset = ContactPoint.objects.order_by("-id")
    serializer_class = s.ContactPointSerializer
    filterset_class = filters.ContactPointFilter


@extend_schema(tags=["products"])
class ProductCategoryViewSet(ReadOnlyViewSet):
    queryset = ProductCategory.objects.order_by("-id")
    serializer_class = s.ProductCategorySerializer


@extend_schema(tags=["products"])
class ProductViewSet(ModelViewSet):
    queryset = Product.objects.prefetch_related("related_products").order_by("-id")
    serializer_class = s.ProductSerializer
    filterset_class = filters.ProductFilter
    action_permissions = {
        "upsert_by_sku": _upsert_permissions("customers", "product"),
        "upsert_by_external_id": _upsert_permissions("customers", "product"),
    }
    upsert_lookups = {"upsert_by_sku": "sku", "upsert_by_external_id": "external_id"}

    @extend_schema(
        request=s.ProductSerializer,
        responses={200: s.ProductSerializer, 201: s.ProductSerializer},
        description="Create or replace the product with this SKU.",
    )
    @action(detail=False, methods=["put"], url_path=f"by-sku/{_KEY_PARAMETER}")
    def upsert_by_sku(self, request: Request, key: str) -> Response:
        return upsert(self, request, field="sku", value=key)

    @extend_schema(
        request=s.ProductSerializer,
        responses={200: s.ProductSerializer, 201: s.ProductSerializer},
        description="Create or replace the product with this external ID.",
    )
    @action(detail=False, methods=["put"], url_path=f"by-external-id/{_KEY_PARAMETER}")
    def upsert_by_external_id(self, request: Request, key: str) -> Response:
        return upsert(self, request, field="external_id", value=key)


@extend_schema(tags=["purchases"])
class PurchaseViewSet(ModelViewSet):
    queryset = Purchase.objects.order_by("-id")
    serializer_class = s.PurchaseSerializer
    filterset_class = filters.PurchaseFilter
    action_permissions = {
        "upsert": _upsert_permissions("customers", "purchase"),
        "bulk": ("customers.add_purchase",),
    }
    upsert_lookups = {"upsert": "external_id"}

    @extend_schema(
        request=s.PurchaseSerializer,
        responses={200: s.PurchaseSerializer, 201: s.PurchaseSerializer},
        description="Create or replace the purchase (order line) with this external ID.",
    )
    @action(detail=False, methods=["put"], url_path=f"by-external-id/{_KEY_PARAMETER}")
    def upsert(self, request: Request, key: str) -> Response:
        return upsert(self, request, field="external_id", value=key)

    @extend_schema(
        request=inline_serializer(
            "PurchaseBulkRequest", {"items": PurchaseItemSerializer(many=True)}
        ),
        responses={201: BulkCreated, 400: BULK_REFUSED},
        description=(
            "Create many purchases at once, all or none. Refer to customers by `customer` (id) "
            "or `customer_external_id` and to products by `product` (id) or `product_sku`. "
            "A refused request names each bad item by its index."
        ),
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return _bulk_response(bulk_create_purchases, request)


@extend_schema(tags=["interests"])
class InterestViewSet(ModelViewSet):
    queryset = Interest.objects.order_by("-id")
    serializer_class = s.InterestSerializer
    filterset_class = filters.InterestFilter
    action_permissions = {"bulk": ("customers.add_interest",)}

    @extend_schema(
        request=inline_serializer(
            "InterestBulkRequest", {"items": InterestItemSerializer(many=True)}
        ),
        responses={201: BulkCreated, 400: BULK_REFUSED},
        description=(
            "Create many interests (abandoned carts, quotes, views) at once, all or none; "
            "references as for purchases."
        ),
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return _bulk_response(bulk_create_interests, request)


@extend_schema(tags=["interactions"])
class InteractionViewSet(ModelViewSet):
    queryset = Interaction.objects.order_by("-id")
    serializer_class = s.InteractionSerializer
    filterset_class = filters.InteractionFilter


@extend_schema(tags=["offers"])
class OfferViewSet(ModelViewSet):
    """Offers made to customers. The answer is recorded by `respond/`; status is read-only."""

    queryset = Offer.objects.order_by("-id")
    serializer_class = s.OfferSerializer
    filterset_class = filters.OfferFilter
    action_permissions = {"respond": ("customers.change_offer",)}

    @extend_schema(
        request=s.OfferResponseSerializer,
        responses={200: s.OfferSerializer},
        description=(
            "Record the customer's answer to an offer still open: `accepted` (with the "
            "`purchase` it led to, the customer's own) or `declined`. An offer already "
            "answered is a 400 naming `status`."
        ),
    )
    @action(detail=True, methods=["post"])
    def respond(self, request: Request, pk: str) -> Response:
        offer = self.get_object()
        body = s.OfferResponseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offer = services.respond_to_offer(
            offer=offer,
            actor=acting_user(request),
            status=body.validated_data["status"],
            purchase=body.validated_data.get("purchase"),
        )
        return Response(self.get_serializer(offer).data)


@extend_schema(tags=["reminders"])
class ReminderViewSet(ReadOnlyViewSet):
    """Proactive reminders; read them, or cancel one that has not gone out."""

    queryset = Reminder.objects.order_by("-id")
    serializer_class = s.ReminderSerializer
    filterset_class = filters.ReminderFilter
    action_permissions = {"cancel": ("customers.change_reminder",)}

    @extend_schema(
        request=None,
        responses={200: s.ReminderSerializer, 409: OpenApiResponse(OpenApiTypes.OBJECT)},
        description="Cancel a pending or failed reminder; one already sent cannot be.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        reminder = self.get_object()
        changed = services.cancel_reminders(reminder_ids=[reminder.pk], actor=acting_user(request))
        reminder.refresh_from_db()
        if not changed and reminder.delivery_status != Reminder.DeliveryStatus.CANCELLED:
            raise Conflict(
                _("A reminder that is %(status)s cannot be cancelled.")
                % {"status": reminder.get_delivery_status_display().lower()}
            )
        return Response(self.get_serializer(reminder).data)
