"""The metrics API for BI tools: every metric with its interval, and a metric's time series.

Supervisors only (the `metrics.view_dashboard` permission): 401 without credentials, 403
for an operator.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.exceptions import InvalidParameter
from customers.models import Channel, Customer
from metrics import answer_cache
from metrics.engine import GroupedFacts, compute_all
from metrics.forms import MetricFilterForm
from metrics.periods import MetricFilters
from metrics.registry import METRICS
from metrics.selectors import timeseries
from metrics.stats import Estimate

INTERVALS = ("week", "month")


class CanViewMetrics(BasePermission):
    """Signed in and holding metrics.view_dashboard (the Supervisors role has it)."""

    message = _("Only supervisors can read metrics.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("metrics.view_dashboard"))


class EstimateSerializer(serializers.Serializer[Any]):
    value = serializers.FloatField(
        allow_null=True, help_text="The figure; null when there is no data (n = 0)."
    )
    n = serializers.IntegerField(help_text="Records behind the figure.")
    ci_low = serializers.FloatField(allow_null=True, help_text="95% interval, low end.")
    ci_high = serializers.FloatField(allow_null=True, help_text="95% interval, high end.")
    unit = serializers.CharField(
        help_text="percent, points (NPS), score, hours, minutes, seconds or currency."
    )
    components = serializers.DictField(
        required=False, help_text="Parts of the figure, e.g. NPS promoter/detractor shares."
    )


def _metrics_serializer() -> type[serializers.Serializer[Any]]:
    fields: dict[str, Any] = {
        # Not required: `?metrics=` answers only the metrics named.
        name: EstimateSerializer(help_text=str(definition.label), required=False)
        for name, definition in METRICS.items()
    }
    return type("MetricsSerializer", (serializers.Serializer,), fields)


MetricsSerializer = _metrics_serializer()


class SeriesPointSerializer(serializers.Serializer[Any]):
    start = serializers.DateField(help_text="The week's Monday or the month's first day.")
    end = serializers.DateField(help_text="The bucket's last day inside the period.")
    value = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField()
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    # The metaclass takes declared fields off the class, so "source" does not shadow Field.source.
    source = serializers.ChoiceField(choices=["snapshots", "facts"])  # type: ignore[assignment]


class TimeseriesSerializer(serializers.Serializer[Any]):
    metric = serializers.CharField()
    interval = serializers.ChoiceField(choices=INTERVALS)
    unit = serializers.CharField()
    points = SeriesPointSerializer(many=True)


FILTER_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="First day (YYYY-MM-DD); default 30 days ago."
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, inclusive; default today."),
    OpenApiParameter("channel", OpenApiTypes.STR, enum=Channel.values),
    OpenApiParameter("operator", OpenApiTypes.INT, description="Operator (user) id."),
    OpenApiParameter("category", OpenApiTypes.INT, description="Product category id."),
    OpenApiParameter("segment", OpenApiTypes.STR, enum=Customer.Segment.values),
    OpenApiParameter("personalized", OpenApiTypes.BOOL),
]


# DRF reads ?format= itself (URL_FORMAT_OVERRIDE); every other parameter must be one we read.
_FRAMEWORK_PARAMETERS = ("format",)


def _read_filters(
    request: Request, *, also: tuple[str, ...]
) -> tuple[MetricFilterForm, dict[str, list[str]]]:
    """The period and slices of a metrics request, and its errors keyed by parameter.

    Stricter than the dashboard's form, whose GET sends empty values for "any": a BI tool that
    sends `from=` or misspells a parameter meant something, and answering the default period
    instead would hand it wrong figures. So an empty value and an unknown parameter are 400s.
    """
    params = request.query_params
    form = MetricFilterForm(params)
    errors: dict[str, list[str]] = {} if form.is_valid() else form.api_errors()
    known = {"from" if name == "from_" else name for name in form.fields}
    known |= {*also, *_FRAMEWORK_PARAMETERS}
    for name in params:
        if name not in known:
            errors[name] = [
                str(_("Unknown parameter; this endpoint reads: %s.") % ", ".join(sorted(known)))
            ]
        elif any(not value.strip() for value in params.getlist(name)):
            errors[name] = [str(_("Give a value, or leave the parameter out."))]
    return form, errors


def _metric_names(values: list[str], errors: dict[str, list[str]]) -> list[str] | None:
    """The metrics named by `?metrics=a,b` (or repeated); None, every metric, when absent."""
    if not values or "metrics" in errors:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        errors["metrics"] = [
            str(
                _("Unknown metric: %(unknown)s. Choose from: %(known)s.")
                % {"unknown": ", ".join(unknown), "known": ", ".join(METRICS)}
            )
        ]
        return None
    return list(dict.fromkeys(names))


def estimate_json(name: str, estimate: Estimate) -> dict[str, Any]:
    data = estimate.as_dict()
    data["unit"] = METRICS[name].unit
    return data


class MetricsView(APIView):
    """Every metric over a period and optional slices."""

    permission_classes = [CanViewMetrics]

    @extend_schema(
        operation_id="metrics_list",
        parameters=[
            OpenApiParameter(
                "metrics",
                OpenApiTypes.STR,
                many=True,
                enum=list(METRICS),
                style="form",
                explode=False,
                description=(
                    "Only these metrics, comma-separated (e.g. `csat,nps`): only they are "
                    "computed. Default: every one. An unknown name is a 400 naming the "
                    'parameter: `{"metrics": ["Unknown metric: ..."], '
                    '"code": "invalid_parameter"}`.'
                ),
            ),
            *FILTER_PARAMETERS,
        ],
        responses={200: MetricsSerializer},
        description=(
            "One object per metric, keyed by its snake_case name: value, n, ci_low, ci_high "
            "(95%), unit. Shares and NPS are in percent points. No data: value null, n 0. "
            "An unknown or empty parameter is a 400 naming it (`invalid_parameter`). Answers "
            "are cached per filter set until the data they read changes."
        ),
    )
    def get(self, request: Request) -> Response:
        form, errors = _read_filters(request, also=("metrics",))
        names = _metric_names(request.query_params.getlist("metrics"), errors)
        if errors:
            raise InvalidParameter(errors)
        filters = form.filters()
        wanted = names or list(METRICS)
        question = {"filters": filters.as_query(), "metrics": sorted(wanted)}
        answers = answer_cache.cached(question, lambda: metrics_answer(filters, wanted))
        return Response({name: answers[name] for name in wanted})


def metrics_answer(filters: MetricFilters, names: list[str]) -> dict[str, Any]:
    """The named metrics as the API shows them: the fact families they belong to are read once
    (from the daily rollups for the days they cover), and the waiting time's split by channel
    from the same groups."""
    facts = GroupedFacts(filters, [filters.period])
    estimates = compute_all(filters, names, facts=facts)
    results = {name: estimate_json(name, estimate) for name, estimate in estimates.items()}
    if "average_waiting_time" in results:
        by_channel = facts.split("average_waiting_time", "channel")
        results["average_waiting_time"].setdefault("components", {})["by_channel"] = {
            str(channel): estimate_json("average_waiting_time", by_channel[channel])
            for channel in sorted(by_channel, key=str)
        }
    return results


class TimeseriesView(APIView):
    """One metric per week or month of the period."""

    permission_classes = [CanViewMetrics]

    @extend_schema(
        operation_id="metrics_timeseries",
        parameters=[
            OpenApiParameter("metric", OpenApiTypes.STR, required=True, enum=list(METRICS)),
            OpenApiParameter("interval", OpenApiTypes.STR, enum=list(INTERVALS)),
            *FILTER_PARAMETERS,
        ],
        responses={200: TimeseriesSerializer},
    )
    def get(self, request: Request) -> Response:
        form, errors = _read_filters(request, also=("metric", "interval"))
        metric = request.query_params.get("metric", "")
        interval = request.query_params.get("interval", "week")
        if metric not in METRICS and "metric" not in errors:
            errors["metric"] = [str(_("Choose one of: %s.") % ", ".join(METRICS))]
        if interval not in INTERVALS and "interval" not in errors:
            errors["interval"] = [str(_("Choose week or month."))]
        if errors:
            raise InvalidParameter(errors)
        points = timeseries(metric, form.filters(), interval=interval)
        return Response(
            {
                "metric": metric,
                "interval": interval,
                "unit": METRICS[metric].unit,
                "points": [
                    {
                        "start": point.start,
                        "end": point.end,
                        "value": point.estimate.value,
                        "n": point.estimate.n,
                        "ci_low": point.estimate.ci_low,
                        "ci_high": point.estimate.ci_high,
                        "source": point.source,
                    }
                    for point in points
                ],
            }
        )
