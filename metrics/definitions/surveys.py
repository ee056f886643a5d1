"""Survey metrics: CSAT (share satisfied, mean score), NPS, CES (mean effort, share easy),
over the survey responses answered in the period. One family, "responses": every metric
reads the same rows, each those of its survey kind (the sentiment of comments reads them too,
`metrics.definitions.sentiment`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from metrics import stats
from metrics.definitions.base import (
    MEAN,
    NPS,
    SHARE,
    FactMetric,
    Paths,
    apply_filters,
    as_float,
    fact_metric,
    mean_of,
    moments,
    share_of,
)
from metrics.periods import MetricFilters
from metrics.stats import Estimate
from surveys.models import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, Survey, SurveyResponse

# Means of scores are reported on the kind's default scale, so that a 1-10 CSAT survey and a
# 1-5 one can be averaged together (linear rescaling; identity for surveys on the default).
CSAT_MEAN_SCALE = (1, 5)
CES_MEAN_SCALE = (1, 7)  # oriented so that 7 is the easy end

SURVEY_PATHS: Paths = {
    "channel": "invitation__channel",
    "operator": "invitation__operator_id",
    "category": (
        "invitation__purchase__product__category_id",
        "invitation__ticket__purchase__product__category_id",
    ),
    "segment": "invitation__customer__segment",
    "personalized": "invitation__personalized",
}
SURVEY_DIMENSIONS = {
    "channel": "invitation__channel",
    "operator": "invitation__operator_id",
    "personalized": "invitation__personalized",
}


def responses(kind: str | None) -> Callable[[MetricFilters], QuerySet[Any]]:
    def source(filters: MetricFilters) -> QuerySet[Any]:
        queryset = SurveyResponse.objects.all()
        if kind is not None:
            queryset = queryset.filter(invitation__survey__kind=kind)
        return apply_filters(queryset, filters, time="answered_at", paths=SURVEY_PATHS)

    return source


def _rescaled_score(low: int, high: int, *, easy_high: bool = False) -> Any:
    """The score moved linearly onto [low, high]; for CES, turned so that high is easy."""
    scale_min = F("invitation__survey__scale_min")
    scale_max = F("invitation__survey__scale_max")
    position: Any = as_float(F("score")) - scale_min
    if easy_high:
        position = Case(
            When(
                invitation__survey__easy_end=Survey.EasyEnd.LOW,
                then=as_float(scale_max) - F("score"),
            ),
            default=as_float(F("score")) - scale_min,
            output_field=FloatField(),
        )
    return Value(float(low)) + position * Value(float(high - low)) / as_float(scale_max - scale_min)


SATISFIED = Q(score__gte=F("invitation__survey__satisfied_threshold"))
EASY = Q(
    invitation__survey__easy_end=Survey.EasyEnd.HIGH,
    score__gte=F("invitation__survey__satisfied_threshold"),
) | Q(
    invitation__survey__easy_end=Survey.EasyEnd.LOW,
    score__lte=F("invitation__survey__satisfied_threshold"),
)


def _survey_family(kind: str | None, where: Q) -> dict[str, Any]:
    return {
        "source": responses(kind),
        "family": "responses",
        "base": responses(None),
        "where": where,
        "filter_paths": SURVEY_PATHS,
    }


CSAT = FactMetric(
    **_survey_family(Survey.Kind.CSAT, Q(invitation__survey__kind=Survey.Kind.CSAT)),
    time_field="answered_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=SATISFIED)},
    finish=share_of,
    dimension_paths=SURVEY_DIMENSIONS,
)
CSAT_MEAN = FactMetric(
    **_survey_family(Survey.Kind.CSAT, Q(invitation__survey__kind=Survey.Kind.CSAT)),
    time_field="answered_at",
    aggregates=lambda: moments(_rescaled_score(*CSAT_MEAN_SCALE)),
    finish=mean_of(),
    bounds=CSAT_MEAN_SCALE,
    dimension_paths=SURVEY_DIMENSIONS,
)


def _finish_nps(row: Mapping[str, Any]) -> Estimate:
    n = row["n"] or 0
    promoters, detractors = row["promoters"] or 0, row["detractors"] or 0
    return stats.nps(promoters, n - promoters - detractors, detractors)


NPS_FACT = FactMetric(
    **_survey_family(Survey.Kind.NPS, Q(invitation__survey__kind=Survey.Kind.NPS)),
    time_field="answered_at",
    aggregates=lambda: {
        "n": Count("pk"),
        "promoters": Count("pk", filter=Q(score__gte=NPS_PROMOTER_MIN)),
        "detractors": Count("pk", filter=Q(score__lte=NPS_DETRACTOR_MAX)),
    },
    finish=_finish_nps,
    dimension_paths=SURVEY_DIMENSIONS,
)
CES_MEAN = FactMetric(
    **_survey_family(Survey.Kind.CES, Q(invitation__survey__kind=Survey.Kind.CES)),
    time_field="answered_at",
    aggregates=lambda: moments(_rescaled_score(*CES_MEAN_SCALE, easy_high=True)),
    finish=mean_of(),
    bounds=CES_MEAN_SCALE,
    dimension_paths=SURVEY_DIMENSIONS,
)
CES_EASY = FactMetric(
    **_survey_family(Survey.Kind.CES, Q(invitation__survey__kind=Survey.Kind.CES)),
    time_field="answered_at",
    aggregates=lambda: {"n": Count("pk"), "k": Count("pk", filter=EASY)},
    finish=share_of,
    dimension_paths=SURVEY_DIMENSIONS,
)


DEFINITIONS = [
    fact_metric("csat", _("CSAT, satisfied share"), "percent", SHARE, CSAT),
    fact_metric("csat_mean", _("CSAT, mean score (1-5)"), "score", MEAN, CSAT_MEAN),
    fact_metric("nps", _("NPS"), "points", NPS, NPS_FACT),
    fact_metric("ces", _("CES, mean effort (1-7, 7 = easy)"), "score", MEAN, CES_MEAN),
    fact_metric("ces_easy", _("CES, share of easy answers"), "percent", SHARE, CES_EASY),
]
