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

from crm.api.exceptions import InvalidParameter
from customers.models import Channel, Customer
from metrics.calculations import METRICS, compute_all, split_metric
from metrics.filters import MetricFilterForm
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
        name: EstimateSerializer(help_text=str(definition.label))
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


def estimate_json(name: str, estimate: Estimate) -> dict[str, Any]:
    data = estimate.as_dict()
    data["unit"] = METRICS[name].unit
    return data


class MetricsView(APIView):
    """Every metric over a period and optional slices."""

    permission_classes = [CanViewMetrics]

    @extend_schema(
        operation_id="metrics_list",
        parameters=FILTER_PARAMETERS,
        responses={200: MetricsSerializer},
        description=(
            "One object per metric, keyed by its snake_case name: value, n, ci_low, ci_high "
            "(95%), unit. Shares and NPS are in percent points. No data: value null, n 0."
        ),
    )
    def get(self, request: Request) -> Response:
        form = MetricFilterForm(request.query_params)
        if not form.is_valid():
            raise InvalidParameter(form.api_errors())
        filters = form.filters()
        results = {name: estimate_json(name, e) for name, e in compute_all(filters).items()}
        by_channel = split_metric("average_waiting_time", filters, "channel")
        results["average_waiting_time"].setdefault("components", {})["by_channel"] = {
            str(channel): estimate_json("average_waiting_time", estimate)
            for channel, estimate in by_channel.items()
        }
        return Response(results)


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
        form = MetricFilterForm(request.query_params)
        errors: dict[str, list[str]] = {} if form.is_valid() else form.api_errors()
        metric = request.query_params.get("metric", "")
        interval = request.query_params.get("interval") or "week"
        if metric not in METRICS:
            errors["metric"] = [str(_("Choose one of: %s.") % ", ".join(METRICS))]
        if interval not in INTERVALS:
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
