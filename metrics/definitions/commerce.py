"""Commerce metrics: conversion of interests (asked about, carted, quoted, viewed) into
purchases, and of offers made by operators into accepted ones."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from customers.models import Interest, Offer
from metrics.definitions.base import SHARE, FactMetric, Paths, apply_filters, fact_metric, share_of

OFFER_PATHS: Paths = {
    "channel": "interaction__channel",
    "operator": "operator_id",
    "category": "product__category_id",
    "segment": "customer__segment",
    "personalized": "interaction__personalized",
}
OFFER_DIMENSIONS = {
    "channel": "interaction__channel",
    "operator": "operator_id",
    "personalized": "interaction__personalized",
}
INTEREST_PATHS: Paths = {
    "channel": "channel",
    "category": "product__category_id",
    "segment": "customer__segment",
}

OFFER_CONVERSION = FactMetric(
    source=lambda f: apply_filters(Offer.objects.all(), f, time="offered_at", paths=OFFER_PATHS),
    time_field="offered_at",
    aggregates=lambda: {
        "n": Count("pk"),
        "k": Count("pk", filter=Q(status=Offer.Status.ACCEPTED)),
    },
    finish=share_of,
    dimension_paths=OFFER_DIMENSIONS,
    filter_paths=OFFER_PATHS,
)
INTEREST_CONVERSION = FactMetric(
    source=lambda f: apply_filters(
        Interest.objects.all(), f, time="occurred_at", paths=INTEREST_PATHS
    ),
    time_field="occurred_at",
    aggregates=lambda: {
        "n": Count("pk"),
        "k": Count("pk", filter=Q(status=Interest.Status.CONVERTED)),
    },
    finish=share_of,
    dimension_paths={"channel": "channel"},
    filter_paths=INTEREST_PATHS,
)


DEFINITIONS = [
    fact_metric(
        "interest_conversion_rate",
        _("Conversion of interests"),
        "percent",
        SHARE,
        INTEREST_CONVERSION,
    ),
    fact_metric(
        "offer_conversion_rate", _("Conversion of offers"), "percent", SHARE, OFFER_CONVERSION
    ),
]
