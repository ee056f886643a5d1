"""The sentiment of feedback: the shares of positive, neutral and negative comments among
those classified (PRODUCT.md). Feedback is what customers write in their own words: survey
comments (family "responses", on their answer's time) and the customer's messages on tickets
(family "messages", on the message's time; classified at ingest, the new text without the
quoted history). Each metric reads both families and adds their counts (`FactMetric.parts`),
so the dashboard pays one grouped read (or one rollup read) for the messages.

Slices: a message's channel is the one it came by (email ...), its operator the ticket's
assignee, its personalised flag the ticket's; category and segment through the ticket, as the
ticket metrics read them."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from metrics.definitions.base import SHARE, FactMetric, Paths, apply_filters, fact_metric, share_of
from metrics.definitions.surveys import SURVEY_DIMENSIONS, SURVEY_PATHS, responses
from metrics.periods import MetricFilters
from tickets.models import Sentiment, TicketMessage

MESSAGE_PATHS: Paths = {
    "channel": "channel",
    "operator": "ticket__assignee_id",
    "category": "ticket__purchase__product__category_id",
    "segment": "ticket__customer__segment",
    "personalized": "ticket__personalized",
}
MESSAGE_DIMENSIONS = {
    "channel": "channel",
    "operator": "ticket__assignee_id",
    "personalized": "ticket__personalized",
}


def classified_messages(filters: MetricFilters) -> QuerySet[Any]:
    """The customer's messages on tickets whose sentiment is known, of the period and slices
    (served by the partial index `ticket_message_sentiment_idx`)."""
    queryset = TicketMessage.objects.filter(
        author_kind=TicketMessage.Author.CUSTOMER, is_internal=False
    ).exclude(sentiment="")
    return apply_filters(queryset, filters, time="created_at", paths=MESSAGE_PATHS)


def _classified_comments(filters: MetricFilters) -> QuerySet[Any]:
    return responses(None)(filters).exclude(sentiment="")


def _sentiment(sentiment: str) -> FactMetric:
    def aggregates() -> dict[str, Any]:
        return {"n": Count("pk"), "k": Count("pk", filter=Q(sentiment=sentiment))}

    messages = FactMetric(
        source=classified_messages,
        family="messages",
        base=classified_messages,
        filter_paths=MESSAGE_PATHS,
        time_field="created_at",
        aggregates=aggregates,
        finish=share_of,
        dimension_paths=MESSAGE_DIMENSIONS,
    )
    return FactMetric(
        source=_classified_comments,
        family="responses",
        base=responses(None),
        where=~Q(sentiment=""),
        filter_paths=SURVEY_PATHS,
        time_field="answered_at",
        aggregates=aggregates,
        finish=share_of,
        dimension_paths=SURVEY_DIMENSIONS,
        parts=(messages,),
    )


DEFINITIONS = [
    fact_metric(
        "sentiment_positive",
        _("Positive comments"),
        "percent",
        SHARE,
        _sentiment(Sentiment.POSITIVE),
    ),
    fact_metric(
        "sentiment_neutral",
        _("Neutral comments"),
        "percent",
        SHARE,
        _sentiment(Sentiment.NEUTRAL),
    ),
    fact_metric(
        "sentiment_negative",
        _("Negative comments"),
        "percent",
        SHARE,
        _sentiment(Sentiment.NEGATIVE),
        higher_is_better=False,
    ),
]
