"""The metrics' part of the customer card: predicted value and the chance the customer is active.

Registered from MetricsConfig.ready() at position 75, after satisfaction (PRODUCT.md's
section 7). The figures come from the latest fitted BG/NBD and Gamma-Gamma models
(`manage.py clv fit`); until one exists, or when the latest fit failed its checks, the
section says so instead of guessing.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from customers.card import CardContext, CardSection, register_section
from metrics.clv import customer_value
from metrics.models import CLVModelFit

# Below this chance of still being active the card flags the customer as slipping away;
# above the upper bound as active. Between: amber. Operators read it as a conversation hint.
LIKELY_GONE_BELOW = 0.3
LIKELY_ACTIVE_FROM = 0.7


def predicted_value_section(context: CardContext) -> dict[str, Any]:
    """The customer's predicted CLV, expected purchases and P(active); a fixed few queries."""
    value = customer_value(
        context.customer.pk, now=context.now, by_currency=context.value_to_date()
    )
    alive = value.probability_alive
    if alive is None:
        badge = ""
    elif alive < LIKELY_GONE_BELOW:
        badge = "bad"
    elif alive < LIKELY_ACTIVE_FROM:
        badge = "warn"
    else:
        badge = "ok"
    problem = value.model_problem
    return {
        "value": value,
        "alive_percent": None if alive is None else round(alive * 100),
        "alive_badge": badge,
        # Why a fitted model predicts nothing for this customer, in the operator's language.
        "problem": CLVModelFit.Failure(problem).label if problem else "",
    }


class CardPredictedValueSerializer(serializers.Serializer):
    """The section's JSON form (API card): predictions are null until a model is fitted."""

    predicted_clv = serializers.DecimalField(
        source="value.predicted_clv",
        max_digits=16,
        decimal_places=2,
        allow_null=True,
        help_text="Discounted expected revenue over `horizon_months` (BG/NBD x Gamma-Gamma).",
    )
    expected_purchases = serializers.FloatField(source="value.expected_purchases", allow_null=True)
    probability_alive = serializers.FloatField(
        source="value.probability_alive",
        allow_null=True,
        help_text="The chance, 0 to 1, that the customer still buys from us.",
    )
    model_problem = serializers.ChoiceField(
        source="value.model_problem",
        choices=CLVModelFit.Failure.choices,
        help_text="Why predictions are null although a model was fitted (the latest fit "
        "failed, or its prediction for this customer is unsound); empty otherwise.",
    )
    horizon_months = serializers.IntegerField(source="value.horizon")
    currency = serializers.CharField(source="value.currency")


def register() -> None:
    """Put the predicted-value section on the card (MetricsConfig.ready)."""
    register_section(
        CardSection(
            key="predicted_value",
            title=gettext_lazy("Predicted value"),
            position=75,
            template="metrics/card_predicted_value.html",
            load=predicted_value_section,
            serializer=CardPredictedValueSerializer,
            width="third",
            permission="customers.view_purchase",
        )
    )
