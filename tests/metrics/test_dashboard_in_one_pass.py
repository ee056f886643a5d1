"""The dashboard reads each fact table once (grouped by every dimension, the period and the
one before it together) and gives exactly the figures of the per-metric queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from customers.models import Channel
from metrics import selectors
from metrics.engine import GroupedFacts, compute_all, compute_metric, compute_periods, split_metric
from metrics.periods import MetricFilters
from metrics.registry import METRICS
from metrics.stats import Estimate
from tests.metrics.test_same_on_both_databases import PERIOD, _build

pytestmark = pytest.mark.django_db
# Pooled means differ from one AVG() only by floating-point rounding.
REL = 1e-9


def _same(got: Estimate, wanted: Estimate, label: str) -> None:
    assert got.n == wanted.n, label
    for actual, expected in (
        (got.value, wanted.value),
        (got.ci_low, wanted.ci_low),
        (got.ci_high, wanted.ci_high),
        (got.sd, wanted.sd),
    ):
        if expected is None:
            assert actual is None, label
        else:
            assert actual == pytest.approx(expected, rel=REL), label
    assert set(got.components) == set(wanted.components), label
    for key, expected in wanted.components.items():
        if isinstance(expected, int | float) and not isinstance(expected, bool):
            assert got.components[key] == pytest.approx(expected, rel=REL), (label, key)
        else:
            assert got.components[key] == expected, (label, key)


def _same_split(got: dict[Any, Estimate], wanted: dict[Any, Estimate], label: str) -> None:
    wanted = {key: estimate for key, estimate in wanted.items() if estimate.n}
    assert set(got) == set(wanted), label
    for key, estimate in wanted.items():
        _same(got[key], estimate, f"{label}/{key}")


FILTERS = [
    MetricFilters(period=PERIOD),
    MetricFilters(period=PERIOD, personalized=True),
    MetricFilters(period=PERIOD, channel=Channel.PHONE),
    MetricFilters(period=PERIOD, personalized=False, channel=Channel.CHAT),
]


@pytest.mark.parametrize("filters", FILTERS, ids=["all", "personalised", "phone", "chat-not"])
def test_dashboard_figures_equal_the_per_metric_queries(filters: MetricFilters) -> None:
    _build()
    figures = selectors.dashboard(filters)
    current = compute_all(filters)
    previous = compute_all(filters.with_period(filters.period.previous()))
    for kpi in figures.kpis:
        name = kpi.definition.name
        _same(kpi.current, current[name], name)
        _same(kpi.previous, previous[name], f"{name} (previous)")
    unflagged = filters.with_personalized(None)
    for row in figures.cohorts:
        name = row.definition.name
        split = split_metric(name, unflagged, "personalized")
        _same(row.personalised, split.get(True, Estimate(None, 0)), f"{name}/yes")
        _same(row.not_personalised, split.get(False, Estimate(None, 0)), f"{name}/no")
    for table, dimension in ((figures.operators, "operator"), (figures.channels, "channel")):
        for column in table.columns:
            wanted = split_metric(column.name, filters, dimension)
            got = {key: cells[column.name] for key, _label, cells in table.rows}
            got = {key: estimate for key, estimate in got.items() if estimate.n}
            expected = {key: e for key, e in wanted.items() if key is not None and e.n}
            _same_split(got, expected, f"{column.name}/{dimension}")


def test_grouped_facts_split_every_fact_metric_like_split_metric() -> None:
    _build()
    filters = MetricFilters(period=PERIOD)
    facts = GroupedFacts(filters, [filters.period])
    for name, definition in METRICS.items():
        if definition.fact is None:
            continue
        _same(facts.compute(name), compute_all(filters, [name])[name], name)
        for dimension in definition.dimensions:
            _same_split(
                facts.split(name, dimension),
                split_metric(name, filters, dimension),
                f"{name}/{dimension}",
            )


def test_periods_together_equal_periods_apart() -> None:
    _build()
    filters = MetricFilters(period=PERIOD)
    periods = [PERIOD, PERIOD.previous()]
    together = compute_periods(filters, periods)
    for period, figures in zip(periods, together, strict=True):
        apart = compute_all(filters.with_period(period))
        for name in METRICS:
            _same(figures[name], apart[name], f"{name} {period}")
        # Every customer-base metric on its own reads the same figures.
        for name in ("churn_rate", "retention_rate", "repeat_purchase_rate", "clv_historical"):
            _same(figures[name], compute_metric(name, filters.with_period(period)), name)


def test_the_whole_dashboard_is_a_dozen_queries(django_assert_max_num_queries: Any) -> None:
    _build()
    # Seven fact families (survey responses, customers' ticket messages for the sentiment,
    # tickets created and resolved, inbound contacts, offers, interests) and the look-up of
    # the days the daily rollups cover (none here: tests/metrics/test_rollups.py); the
    # purchase summary (is it current, does any customer have a subscription that can lapse,
    # the counts over the days, the last day before each end); the medians of both periods
    # and the cohort split (one query on PostgreSQL, three on SQLite); the operators' names:
    # a fixed number, whatever the number of metrics or facts.
    with django_assert_max_num_queries(14 if connection.vendor == "postgresql" else 16):
        selectors.dashboard(MetricFilters(period=PERIOD))


def test_no_data_stays_no_data() -> None:
    figures = selectors.dashboard(MetricFilters(period=PERIOD))
    assert all(kpi.current.value is None and kpi.current.n == 0 for kpi in figures.kpis)
    assert figures.operators.rows == [] and figures.channels.rows == []
