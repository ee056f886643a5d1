"""The supervisor dashboard at /metrics/ and the CSV export of each of its tables."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from metrics import selectors
from metrics.forms import MetricFilterForm
from metrics.periods import MetricFilters
from metrics.registry import METRICS
from metrics.stats import Estimate

# Periods longer than this are charted by month, shorter ones by week.
WEEKLY_UP_TO_DAYS = 184
CHART_METRICS = (
    "csat",
    "nps",
    "ces",
    "first_contact_resolution",
    "average_resolution_time",
    "first_response_time",
    "abandonment_rate",
    "offer_conversion_rate",
)
EXPORTS = ("kpis", "cohorts", "operators", "channels")


def _filters_or_errors(request: HttpRequest) -> tuple[MetricFilterForm, MetricFilters | None]:
    form = MetricFilterForm(request.GET)
    return form, form.filters() if form.is_valid() else None


@require_GET
@login_required
@permission_required("metrics.view_dashboard", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    """KPI tiles, charts, the cohort comparison, the per-operator and per-channel tables."""
    form, filters = _filters_or_errors(request)
    context: dict[str, Any] = {"form": form}
    status = 200
    if filters is None:
        status = 400
    else:
        query = urlencode(filters.as_query())
        figures = selectors.dashboard(filters)
        context |= {
            "filters": filters,
            "query": query,
            "kpis": figures.kpis,
            "cohorts": figures.cohorts,
            "operators": figures.operators,
            "channels": figures.channels,
            "charts": [METRICS[name] for name in CHART_METRICS],
            "interval": "week" if filters.period.days <= WEEKLY_UP_TO_DAYS else "month",
            "exports": EXPORTS,
        }
    template = (
        "metrics/_results.html" if request.headers.get("HX-Request") else "metrics/dashboard.html"
    )
    return render(request, template, context, status=status)


def _cells(estimate: Estimate) -> list[Any]:
    return [estimate.value, estimate.n, estimate.ci_low, estimate.ci_high]


def _csv_rows(table: str, filters: MetricFilters) -> Iterable[list[Any]]:
    interval_columns = [_("value"), _("n"), _("95% CI low"), _("95% CI high")]
    if table == "kpis":
        yield [_("metric"), _("unit"), *interval_columns, _("previous value"), _("previous n")]
        for kpi in selectors.kpis(filters):
            yield [
                kpi.definition.name,
                kpi.definition.unit,
                *_cells(kpi.current),
                kpi.previous.value,
                kpi.previous.n,
            ]
    elif table == "cohorts":
        yield [
            _("metric"),
            *[f"{_('personalised')} {column}" for column in interval_columns],
            *[f"{_('not personalised')} {column}" for column in interval_columns],
            _("difference"),
            _("test"),
            _("p-value"),
            _("significant at the 95 percent level"),
        ]
        for row in selectors.cohorts(filters):
            yield [
                row.definition.name,
                *_cells(row.personalised),
                *_cells(row.not_personalised),
                row.difference.difference,
                row.difference.test,
                row.difference.p_value,
                row.difference.significant,
            ]
    else:
        split = (
            selectors.operators_table(filters)
            if table == "operators"
            else selectors.channels_table(filters)
        )
        yield [
            _("operator") if table == "operators" else _("channel"),
            # The metric's label in the user's language, then the column's own header.
            *[f"{column.label}: {label}" for column in split.columns for label in interval_columns],
        ]
        for _key, label, cells in split.rows:
            yield [label, *[x for column in split.columns for x in _cells(cells[column.name])]]


@require_GET
@login_required
@permission_required("metrics.view_dashboard", raise_exception=True)
def export(request: HttpRequest, table: str) -> HttpResponse:
    """One dashboard table as CSV, for the same filters."""
    if table not in EXPORTS:
        raise Http404
    form, filters = _filters_or_errors(request)
    if filters is None:
        return HttpResponse(
            "\n".join(
                f"{field}: {' '.join(errors)}" for field, errors in form.api_errors().items()
            ),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"metrics-{table}-{filters.period.start}-{filters.period.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    for row in _csv_rows(table, filters):
        writer.writerow(["" if cell is None else cell for cell in row])
    return response
