"""The surveys' part of the customer card: the satisfaction section and the "send survey" action.

Registered from SurveysConfig.ready(), so `customers` shows survey answers without importing
surveys. The section shows the customer's CSAT, NPS and CES answers with comments and their
sentiment, beside the customer's value to date (`surveys.selectors.customer_satisfaction`);
its JSON form is `surveys.api.CardSatisfactionSerializer`, the action's view
`surveys.views.send_survey`.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from customers.card import CardAction, CardContext, CardSection, register_action, register_section
from surveys.api import CardSatisfactionSerializer
from surveys.selectors import CustomerSatisfaction, customer_satisfaction


def satisfaction_section(context: CardContext) -> CustomerSatisfaction:
    """The section's loader: the customer's satisfaction as the card's context gives them."""
    return customer_satisfaction(
        context.customer.pk, now=context.now, value=context.value_to_date()
    )


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
