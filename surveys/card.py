"""The surveys' part of the customer card: satisfaction, and the "send survey" action.

Registered from SurveysConfig.ready(). The section shows the customer's CSAT, NPS and CES
answers with comments and their sentiment, beside the customer's historical value (CLV,
purchases, average order, last purchase) computed by one aggregate query in customers.
`CardSatisfactionSerializer` is the section's JSON form for the API's card.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from rest_framework import serializers

from core.api.serializers import UTCDateTimeField
from customers.card import CardAction, CardContext, CardSection, register_action, register_section
from customers.models import DELIVERY_CHANNELS, Customer
from customers.selectors import customer_value
from customers.views import card_action, operator_required
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from surveys.services import create_invitation, last_survey_sent, next_survey_from

ANSWERS_SHOWN = 5
WAITING_SHOWN = 3


# NPS passives (7-8) are neither promoters nor detractors: amber.
NPS_PASSIVE_MIN = 7


def answer_badge(answer: SurveyResponse) -> str:
    """Green for a satisfied (CSAT), easy (CES) or promoter (NPS) answer, amber for a passive."""
    survey = answer.invitation.survey
    if survey.is_satisfied(answer.score):
        return "ok"
    if survey.kind == Survey.Kind.NPS and answer.score >= NPS_PASSIVE_MIN:
        return "warn"
    return "bad"


def satisfaction_section(context: CardContext) -> dict[str, Any]:
    """Value figures, the newest answers and when the last survey went; five queries."""
    answers = SurveyResponse.objects.filter(invitation__customer=context.customer)
    waiting = SurveyInvitation.objects.filter(
        customer=context.customer, response__isnull=True, expires_at__gt=context.now
    )
    newest = list(
        answers.select_related("invitation__survey").order_by("-answered_at", "-id")[:ANSWERS_SHOWN]
    )
    for answer in newest:
        answer.badge = answer_badge(answer)  # type: ignore[attr-defined]
    last = last_survey_sent(context.customer.pk)
    return {
        "last_survey_at": last.created_at if last is not None else None,
        "next_survey_from": next_survey_from(last.created_at) if last is not None else None,
        "value": customer_value(context.customer.pk),
        "answers": newest,
        "answer_count": answers.count(),
        "waiting": list(waiting.select_related("survey").order_by("-created_at")[:WAITING_SHOWN]),
    }


class CardSurveySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="CSAT, NPS or CES")
    name = serializers.CharField(allow_blank=True)
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()


class CardAnswerSerializer(serializers.Serializer):
    """A survey answer with its comment, the comment's sentiment and the card's badge."""

    id = serializers.IntegerField()
    survey = CardSurveySerializer(source="invitation.survey")
    score = serializers.IntegerField()
    badge = serializers.CharField(
        help_text="ok: satisfied, easy or promoter; warn: NPS passive; bad: the rest"
    )
    comment = serializers.CharField(allow_blank=True)
    sentiment = serializers.CharField(
        allow_blank=True, help_text="positive, neutral, negative; empty when not analysed"
    )
    answered_at = UTCDateTimeField()


class CardWaitingSerializer(serializers.Serializer):
    """An invitation not answered yet and not expired."""

    id = serializers.IntegerField()
    survey = CardSurveySerializer()
    delivery_channel = serializers.CharField(allow_blank=True)
    delivery_status = serializers.CharField()
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()


class CardCustomerValueSerializer(serializers.Serializer):
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
    purchases = serializers.IntegerField()
    average_order_value = serializers.DecimalField(max_digits=16, decimal_places=2)
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


class SendSurveyForm(forms.Form):
    survey = forms.ModelChoiceField(label=gettext_lazy("Survey"), queryset=Survey.objects.none())
    delivery_channel = forms.ChoiceField(
        label=gettext_lazy("Send through"), choices=[(c.value, c.label) for c in DELIVERY_CHANNELS]
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"delivery_channel": customer.preferred_channel})
        super().__init__(*args, **kwargs)
        self.customer = customer
        survey_field: Any = self.fields["survey"]
        survey_field.queryset = Survey.objects.filter(is_active=True)


@require_http_methods(["GET", "POST"])
@operator_required("surveys.add_surveyinvitation")
def send_survey(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Invite the customer to a survey now, at most once per survey and day from the card."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        data = form.cleaned_data
        today = timezone.localdate()
        invitation, created = create_invitation(
            survey=data["survey"],
            customer=customer,
            cause=f"card:{today.isoformat()}",
            operator=request.user,
            personalized=True,
            delivery_channel=data["delivery_channel"],
        )
        if not created:
            raise ValidationError({"survey": _("The customer was already sent this survey today.")})
        return invitation

    return card_action(
        request,
        customer_id,
        action_key="send_survey",
        form_class=SendSurveyForm,
        perform=perform,
        title=_("Send survey"),
        success_message=_("Survey invitation created; it goes out with the next delivery."),
    )


app_name = "survey_card"

urlpatterns = [path("<int:customer_id>/surveys/new/", send_survey, name="send")]


def register() -> None:
    """Put the satisfaction section and the survey action on the card (SurveysConfig.ready)."""
    register_section(
        CardSection(
            key="satisfaction",
            title=gettext_lazy("Satisfaction and value"),
            position=70,
            template="surveys/card_satisfaction.html",
            load=satisfaction_section,
            serializer=CardSatisfactionSerializer,
            width="third",
            permission="surveys.view_surveyresponse",
        )
    )
    register_action(
        CardAction(
            key="send_survey",
            label=gettext_lazy("Send survey"),
            position=50,
            url_name="survey_card:send",
            permission="surveys.add_surveyinvitation",
            refreshes=("satisfaction",),
        )
    )
