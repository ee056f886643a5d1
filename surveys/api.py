"""The surveys API: surveys, invitations (through create_invitation) and responses."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import (
    CleanModelSerializer,
    PlainRowSerializer,
    UTCDateTimeField,
    raise_as_drf,
)
from core.api.viewsets import CreateReadViewSet, ModelViewSet
from customers.models import DELIVERY_CHANNELS, Channel, Customer
from surveys import services
from surveys.models import INVITATION_TOKEN_PERMISSION, Survey, SurveyInvitation, SurveyResponse
from tickets.models import Ticket


class SurveyFilter(filters.FilterSet):
    class Meta:
        model = Survey
        fields = ["kind", "trigger", "is_active"]


class SurveyInvitationFilter(filters.FilterSet):
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = SurveyInvitation
        fields = ["survey", "customer", "ticket", "channel", "delivery_status", "cause"]


class SurveyResponseFilter(filters.FilterSet):
    answered_after = filters.IsoDateTimeFilter(field_name="answered_at", lookup_expr="gte")
    answered_before = filters.IsoDateTimeFilter(field_name="answered_at", lookup_expr="lt")
    customer = filters.NumberFilter(field_name="invitation__customer_id")
    survey = filters.NumberFilter(field_name="invitation__survey_id")
    channel = filters.ChoiceFilter(field_name="invitation__channel", choices=Channel.choices)

    class Meta:
        model = SurveyResponse
        fields = ["sentiment"]


class SurveySerializer(CleanModelSerializer):
    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "kind",
            "questions",
            "scale_min",
            "scale_max",
            "satisfied_threshold",
            "easy_end",
            "trigger",
            "delay_days",
            "repeat_after_days",
            "invitation_ttl_days",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "scale_min": {"required": False, "allow_null": True, "min_value": 0},
            "scale_max": {"required": False, "allow_null": True, "min_value": 0},
            "satisfied_threshold": {"required": False, "allow_null": True},
        }

    def validate_questions(self, value: Any) -> Any:
        if not isinstance(value, dict) or not all(isinstance(text, str) for text in value.values()):
            raise serializers.ValidationError(
                _('Give the question per language: {"en": "...", "ru": "..."}.')
            )
        return value


class SurveyInvitationSerializer(serializers.ModelSerializer):
    survey = serializers.PrimaryKeyRelatedField(queryset=Survey.objects.all())
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    ticket = serializers.PrimaryKeyRelatedField(
        queryset=Ticket.objects.all(), required=False, allow_null=True
    )
    delivery_channel = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in DELIVERY_CHANNELS], required=False
    )
    token = serializers.CharField(
        read_only=True,
        required=False,
        help_text=(
            "The secret of the answer link. Only for users holding "
            "`surveys.view_invitation_token` (integrations that deliver the link themselves); "
            "absent for everyone else."
        ),
    )

    class Meta:
        model = SurveyInvitation
        fields = [
            "id",
            "survey",
            "customer",
            "token",
            "cause",
            "ticket",
            "purchase",
            "operator",
            "channel",
            "personalized",
            "delivery_channel",
            "delivery_status",
            "attempts",
            "created_at",
            "sent_at",
            "expires_at",
        ]
        # Inviting again for the same cause is answered with the first invitation (200).
        validators: list[Any] = []
        read_only_fields = [
            "id",
            "token",
            "delivery_status",
            "attempts",
            "created_at",
            "sent_at",
            "expires_at",
        ]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        request = self.context.get("request")
        # Whoever holds the token can answer as the customer: staff never see it.
        if request is not None and not request.user.has_perm(INVITATION_TOKEN_PERMISSION):
            fields.pop("token", None)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer = attrs["customer"]
        for relation in ("ticket", "purchase"):
            related = attrs.get(relation)
            if related is not None and related.customer_id != customer.pk:
                raise serializers.ValidationError(
                    {relation: [_("It belongs to another customer.")]}
                )
        return attrs


class SurveyResponseSerializer(serializers.ModelSerializer):
    invitation = serializers.PrimaryKeyRelatedField(queryset=SurveyInvitation.objects.all())
    score = serializers.IntegerField(min_value=0, max_value=32767)
    sentiment = serializers.ChoiceField(
        choices=SurveyResponse.Sentiment.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = SurveyResponse
        fields = ["id", "invitation", "score", "comment", "sentiment", "answered_at"]
        read_only_fields = ["id", "sentiment"]


@extend_schema(tags=["surveys"])
class SurveyViewSet(ModelViewSet):
    queryset = Survey.objects.order_by("-id")
    serializer_class = SurveySerializer
    filterset_class = SurveyFilter


@extend_schema(tags=["surveys"])
class SurveyInvitationViewSet(CreateReadViewSet):
    """Invitations: a customer is invited at most once per survey and cause; inviting again
    answers 200 with the existing invitation."""

    queryset = SurveyInvitation.objects.order_by("-id")
    serializer_class = SurveyInvitationSerializer
    filterset_class = SurveyInvitationFilter

    @extend_schema(responses={201: SurveyInvitationSerializer, 200: SurveyInvitationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        try:
            invitation, created = services.create_invitation(
                survey=data.pop("survey"),
                customer=data.pop("customer"),
                cause=data.pop("cause", ""),
                ticket=data.pop("ticket", None),
                **data,
            )
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(invitation).data, status=code)


@extend_schema(tags=["surveys"])
class SurveyResponseViewSet(CreateReadViewSet):
    """Answers; one per invitation; answering again answers 200 with the first answer."""

    queryset = SurveyResponse.objects.order_by("-id")
    serializer_class = SurveyResponseSerializer
    filterset_class = SurveyResponseFilter

    @extend_schema(responses={201: SurveyResponseSerializer, 200: SurveyResponseSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            response, created = services.record_response(
                invitation=data["invitation"],
                score=data["score"],
                comment=data.get("comment", ""),
                at=data.get("answered_at"),
            )
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(response).data, status=code)


# --- The customer card's satisfaction section (its JSON form in the API's card) --------------


class CardSurveySerializer(PlainRowSerializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="CSAT, NPS or CES")
    name = serializers.CharField(allow_blank=True)
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()


class CardAnswerSerializer(PlainRowSerializer):
    """A survey answer with its comment, the comment's sentiment and the card's badge."""

    id = serializers.IntegerField(source="answer.id")
    survey = CardSurveySerializer(source="answer.invitation.survey")
    score = serializers.IntegerField(source="answer.score")
    badge = serializers.CharField(
        help_text="ok: satisfied, easy or promoter; warn: NPS passive; bad: the rest"
    )
    comment = serializers.CharField(source="answer.comment", allow_blank=True)
    sentiment = serializers.CharField(
        source="answer.sentiment",
        allow_blank=True,
        help_text="positive, neutral, negative; empty when not analysed",
    )
    answered_at = UTCDateTimeField(source="answer.answered_at")


class CardWaitingSerializer(PlainRowSerializer):
    """An invitation not answered yet and not expired."""

    id = serializers.IntegerField()
    survey = CardSurveySerializer()
    delivery_channel = serializers.CharField(allow_blank=True)
    delivery_status = serializers.CharField()
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()


class CardCustomerValueSerializer(PlainRowSerializer):
    """Historical CLV in one currency, from completed purchases."""

    currency = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    margin = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        allow_null=True,
        help_text="Over the purchases whose product cost is known (`margin_purchases`).",
    )
    margin_purchases = serializers.IntegerField()
    purchases = serializers.IntegerField(help_text="Completed purchase lines.")
    orders = serializers.IntegerField(
        help_text="Orders: days with a completed purchase (the site's time zone), as the "
        "metrics count them."
    )
    average_order_value = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        allow_null=True,
        help_text="Revenue per order (`orders`), the metrics' average order value.",
    )
    last_purchase_at = UTCDateTimeField(allow_null=True)


class CardSatisfactionSerializer(serializers.Serializer):
    """CLV figures per currency, the newest survey answers, and the invitations waiting."""

    value = CardCustomerValueSerializer(many=True)
    last_survey_at = UTCDateTimeField(
        allow_null=True, help_text="When the newest invitation that went out was created."
    )
    next_survey_from = serializers.DateField(
        allow_null=True,
        help_text="The first day another survey may go to the customer (SURVEY_MIN_DAYS_BETWEEN).",
    )
    answers = CardAnswerSerializer(many=True)
    answer_count = serializers.IntegerField()
    waiting = CardWaitingSerializer(many=True)
