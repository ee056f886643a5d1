"""The tickets API: tickets, their conversation, and their state changes as named actions.

A ticket's status, assignee and priority are never writable fields: they change through
POST /tickets/{number}/status/, /assign/ and /priority/, which call tickets.services and so
record who did it. The card's tickets section serializes with `CardTicketsSerializer`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from accounts.users import acting_user
from core.api.serializers import PlainRowSerializer, SecondsField, UTCDateTimeField, raise_as_drf
from core.api.viewsets import CreateReadUpdateViewSet
from customers.api.card import api_list_url
from customers.models import Channel, Customer
from tickets import services
from tickets.filters import TicketFilter
from tickets.models import Priority, Status, Ticket, TicketMessage
from tickets.selectors import TicketRow
from tickets.sla import ticket_sla


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as integrations see it; `body` on create is the customer's first message."""

    number = serializers.IntegerField(source="pk", read_only=True)
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    body = serializers.CharField(write_only=True, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    sla_state = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "number",
            "customer",
            "subject",
            "channel",
            "status",
            "priority",
            "assignee",
            "team",
            "purchase",
            "external_id",
            "personalized",
            "customer_contacts",
            "reopened_count",
            "sla_policy",
            "first_response_due_at",
            "resolution_due_at",
            "sla_state",
            "created_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "updated_at",
            "body",
        ]
        read_only_fields = [
            "status",
            "assignee",
            "customer_contacts",
            "reopened_count",
            "sla_policy",
            "first_response_due_at",
            "resolution_due_at",
            "created_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "updated_at",
        ]
        extra_kwargs: ClassVar[dict[str, Any]] = {"external_id": {"validators": []}}

    @extend_schema_field(
        serializers.ChoiceField(choices=["none", "on_time", "at_risk", "breached", "met"])
    )
    def get_sla_state(self, ticket: Ticket) -> str:
        return str(ticket_sla(ticket, now=self.context.get("now") or timezone.now()).state)

    def validate_external_id(self, value: str) -> str:
        if value:
            others = Ticket.objects.filter(external_id=value)
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise serializers.ValidationError(_("Another ticket has this external ID."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (
            self.instance is not None
            and "customer" in attrs
            and attrs["customer"].pk != self.instance.customer_id
        ):
            raise serializers.ValidationError(
                {"customer": [_("A ticket cannot move to another customer.")]}
            )
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Ticket:
        request = self.context["request"]
        try:
            return services.open_ticket(actor=acting_user(request), **validated_data)
        except DjangoValidationError as exc:
            raise_as_drf(exc)
            raise  # unreachable; keeps mypy content

    def update(self, instance: Ticket, validated_data: dict[str, Any]) -> Ticket:
        validated_data.pop("body", None)
        validated_data.pop("customer", None)
        if "priority" in validated_data:
            request = self.context["request"]
            instance = services.change_ticket_priority(
                ticket=instance, priority=validated_data.pop("priority"), actor=acting_user(request)
            )
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        instance.save()
        return instance


class TicketMessageSerializer(serializers.ModelSerializer):
    author_kind = serializers.ChoiceField(
        choices=TicketMessage.Author.choices, default=TicketMessage.Author.OPERATOR
    )
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)

    class Meta:
        model = TicketMessage
        fields = [
            "id",
            "ticket",
            "author_kind",
            "author_user",
            "body",
            "is_internal",
            "channel",
            "created_at",
        ]
        read_only_fields = ["id", "ticket", "author_user", "created_at"]


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), allow_null=True
    )


class PriorityChangeSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)


_CHANGE = ("tickets.change_ticket",)
# Held by channel integrations (the Channels role), by no staff role.
CUSTOMER_MESSAGE_PERMISSION = "tickets.add_customer_message"


@extend_schema(tags=["tickets"])
class TicketViewSet(CreateReadUpdateViewSet):
    """Tickets; their number is the id. No delete: a ticket is history."""

    queryset = Ticket.objects.order_by("-id")
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    action_permissions = {
        "change_status": _CHANGE,
        "assign": _CHANGE,
        "change_priority": _CHANGE,
        "messages": ("tickets.view_ticket", "tickets.view_ticketmessage"),
        "add_message": ("tickets.view_ticket", "tickets.add_ticketmessage"),
    }

    def _ticket_response(self, ticket: Ticket) -> Response:
        return Response(TicketSerializer(ticket, context=self.get_serializer_context()).data)

    @extend_schema(
        request=StatusChangeSerializer,
        responses={200: TicketSerializer},
        description=(
            "Move the ticket through its workflow: new → open ⇄ pending → resolved → closed; "
            "a resolved ticket may be reopened. A move the workflow forbids is a 400."
        ),
    )
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        body = StatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ticket = services.change_ticket_status(
            ticket=ticket, to_status=body.validated_data["status"], actor=acting_user(request)
        )
        return self._ticket_response(ticket)

    @extend_schema(
        request=AssignSerializer,
        responses={200: TicketSerializer},
        description="Give the ticket to an operator (a user id), or back to the queue (null).",
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ticket = services.assign_ticket(
            ticket=ticket, assignee=body.validated_data["assignee"], actor=acting_user(request)
        )
        return self._ticket_response(ticket)

    @extend_schema(
        request=PriorityChangeSerializer,
        responses={200: TicketSerializer},
        description="Change the priority; the new priority's SLA targets apply.",
    )
    @action(detail=True, methods=["post"], url_path="priority")
    def change_priority(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        body = PriorityChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ticket = services.change_ticket_priority(
            ticket=ticket, priority=body.validated_data["priority"], actor=acting_user(request)
        )
        return self._ticket_response(ticket)

    @extend_schema(
        responses={200: TicketMessageSerializer(many=True)},
        description="The conversation, oldest first.",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def messages(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        page = self.paginate_queryset(ticket.messages.order_by("-id"))
        data = TicketMessageSerializer(page, many=True).data
        return self.get_paginated_response(data)

    # POST has its own handler (and action name, and permissions): no other method reaches it.
    @extend_schema(
        request=TicketMessageSerializer,
        responses={201: TicketMessageSerializer},
        description=(
            "Add a message: an operator's reply (sets the first response time), an internal "
            "note, or the customer's message (reopens a pending ticket; only with "
            "`tickets.add_customer_message`, which channel integrations hold and staff do not)."
        ),
    )
    @messages.mapping.post
    def add_message(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        body = TicketMessageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        author_kind = data["author_kind"]
        if author_kind == TicketMessage.Author.CUSTOMER and not request.user.has_perm(
            CUSTOMER_MESSAGE_PERMISSION
        ):
            raise PermissionDenied(_("Only the customer's channels write as the customer."))
        message = services.add_message(
            ticket=ticket,
            body=data["body"],
            author_kind=author_kind,
            author_user=acting_user(request)
            if author_kind == TicketMessage.Author.OPERATOR
            else None,
            is_internal=data.get("is_internal", False),
            channel=data.get("channel", ""),
        )
        return Response(TicketMessageSerializer(message).data, status=201)


# --- The customer card's tickets section (its JSON form in the API's card) -------------------


class CardSLAClockSerializer(PlainRowSerializer):
    """One SLA clock: when it falls due, its target, and the time left (negative: over)."""

    state = serializers.CharField(help_text="on_time, at_risk, breached or met")
    due_at = UTCDateTimeField()
    target_seconds = SecondsField(source="target")
    remaining_seconds = SecondsField(
        source="remaining",
        help_text="Time left (negative: time over), frozen when the clock stopped.",
    )


class CardTicketSLASerializer(PlainRowSerializer):
    state = serializers.CharField(help_text="none, on_time, at_risk, breached or met: the worst")
    first_response = CardSLAClockSerializer(allow_null=True)
    resolution = CardSLAClockSerializer(allow_null=True)


class CardTicketRowSerializer(PlainRowSerializer):
    """A ticket as the card lists it: status, SLA clocks and the last public message."""

    id = serializers.IntegerField(source="ticket.pk")
    subject = serializers.CharField(source="ticket.subject")
    status = serializers.CharField(source="ticket.status")
    priority = serializers.CharField(source="ticket.priority")
    channel = serializers.CharField(source="ticket.channel")
    assignee = serializers.SerializerMethodField()
    created_at = UTCDateTimeField(source="ticket.created_at")
    updated_at = UTCDateTimeField(source="ticket.updated_at")
    last_message = serializers.CharField(allow_null=True)
    last_message_at = UTCDateTimeField(allow_null=True)
    last_message_author = serializers.CharField(
        allow_null=True, help_text="customer, operator or system"
    )
    sla = CardTicketSLASerializer()

    def get_assignee(self, row: TicketRow) -> str | None:
        user = row.ticket.assignee
        return None if user is None else str(user.get_full_name() or user.get_username())


class CardTicketsSerializer(serializers.Serializer):
    """Open tickets, freshest first, then the latest closed ones."""

    open = CardTicketRowSerializer(many=True)
    closed = CardTicketRowSerializer(many=True)
    open_count = serializers.IntegerField()
    total = serializers.IntegerField()
    all_url = serializers.SerializerMethodField()

    def get_all_url(self, data: Any) -> str:
        return api_list_url(self.context, "ticket-list", customer=self.context["customer"].pk)
