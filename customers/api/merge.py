"""POST /api/v1/customers/{id}/merge/ with {"other": <id>}: merge `other` into `id`."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.users import acting_user
from core.api.idempotency import IdempotentPostMixin
from core.api.permissions import HasPermissions
from customers.api.serializers import CustomerSerializer
from customers.merge import merge_customers
from customers.models import Customer


class MergeRequestSerializer(serializers.Serializer):
    other = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        help_text=_("The duplicate merged into this customer; it is deleted, kept as an alias."),
    )


class CustomerMergeView(IdempotentPostMixin, APIView):
    """Merge a duplicate customer into this one."""

    permission_classes = [HasPermissions]
    required_permissions = ("customers.merge_customer",)

    @extend_schema(
        tags=["customers"],
        operation_id="customers_merge",
        request=MergeRequestSerializer,
        responses={200: CustomerSerializer},
        description=(
            "Move every record of `other` (contacts, purchases, tickets, interactions, "
            "interests, offers, reminders, survey invitations and answers, audit history) to "
            "this customer in one transaction; `other` is deleted and kept as an alias (its id, "
            "name and external ID still find this customer). Webhook event `customer.merged`."
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        survivor = get_object_or_404(Customer, pk=pk)
        serializer = MergeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merged = merge_customers(
            survivor=survivor, other=serializer.validated_data["other"], actor=acting_user(request)
        )
        merged = Customer.objects.prefetch_related("contact_points", "tags").get(pk=merged.pk)
        return Response(CustomerSerializer(merged).data)
