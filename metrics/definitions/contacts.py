"""Contact metrics: abandonment rate and average waiting time, over the inbound contacts
(calls, chats) the channel's own system measured. One family, "inbound"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from customers.models import Channel, Interaction
from metrics.definitions.base import (
    MEAN,
    NON_NEGATIVE,
    SHARE,
    FactMetric,
    Paths,
    apply_filters,
    fact_metric,
    mean_of,
    moments,
    share_of,
)
from metrics.expressions import SecondsBetween
from metrics.periods import MetricFilters

# Inbound contacts whose abandonment is measured: live channels where a customer waits.
LIVE_CHANNELS = (Channel.PHONE, Channel.CHAT)

INTERACTION_PATHS: Paths = {
    "channel": "channel",
    "operator": "operator_id",
    "segment": "customer__segment",
    "personalized": "personalized",
}
INTERACTION_DIMENSIONS = {
    "channel": "channel",
    "operator": "operator_id",
    "personalized": "personalized",
}
# Answered or given up on: an inbound contact still ringing has no outcome yet.
HAS_OUTCOME = Q(answered_at__isnull=False) | Q(ended_at__isnull=False)
# Interaction.is_abandoned in SQL: inbound, ended, never answered.
ABANDONED = Q(answered_at__isnull=True, ended_at__isnull=False)
# Measured by the channel's own system (the PBX's call ID, the chat's session ID): only these
# know when the contact rang and was answered. A contact an operator logged by hand has no
# such times (it would count as answered at once, at zero seconds), so it is left out.
MEASURED = ~Q(external_id="")


def _inbound(*, live_only: bool) -> Callable[[MetricFilters], QuerySet[Any]]:
    def source(filters: MetricFilters) -> QuerySet[Any]:
        queryset = Interaction.objects.filter(
            HAS_OUTCOME,
            MEASURED,
            kind=Interaction.Kind.CONTACT,
            direction=Interaction.Direction.INBOUND,
        )
        if live_only:
            queryset = queryset.filter(channel__in=LIVE_CHANNELS)
        return apply_filters(queryset, filters, time="started_at", paths=INTERACTION_PATHS)

    return source


ABANDONMENT = FactMetric(
    source=_inbound(live_only=True),
    family="inbound",
    base=_inbound(live_only=False),
    # MEASURED again (the base has it): the rollups' fingerprint changes with it, so rollups
    # stored before hand-logged contacts were left out are not read.
    where=Q(channel__in=LIVE_CHANNELS) & MEASURED,
    time_field="started_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=ABANDONED)},
    finish=share_of,
    dimension_paths=INTERACTION_DIMENSIONS,
    filter_paths=INTERACTION_PATHS,
)


def _waiting_aggregates() -> dict[str, Any]:
    return moments(SecondsBetween(F("started_at"), Coalesce("answered_at", "ended_at")))


WAITING_TIME = FactMetric(
    source=_inbound(live_only=False),
    family="inbound",
    base=_inbound(live_only=False),
    where=MEASURED,  # for the rollups' fingerprint, as ABANDONMENT's
    time_field="started_at",
    aggregates=_waiting_aggregates,
    finish=mean_of(),
    bounds=NON_NEGATIVE,
    dimension_paths=INTERACTION_DIMENSIONS,
    filter_paths=INTERACTION_PATHS,
)


DEFINITIONS = [
    fact_metric(
        "abandonment_rate",
        _("Abandonment rate"),
        "percent",
        SHARE,
        ABANDONMENT,
        higher_is_better=False,
    ),
    fact_metric(
        "average_waiting_time",
        _("Average waiting time, seconds"),
        "seconds",
        MEAN,
        WAITING_TIME,
        higher_is_better=False,
    ),
]
