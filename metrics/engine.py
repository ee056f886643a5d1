"""Evaluating the metrics: every metric (or those named) over a period and slices, for one
period or several at once, overall or split by a dimension, in as few queries as the
definitions allow.

- Fact metrics of one family (`metrics.registry.families`) are answered together by one query
  of filtered aggregates (`GroupedFacts`: grouped by every dimension, all periods at once),
  read from the daily rollups (`metrics.rollups`) for the days they cover and from the facts
  for the others.
- The customer-base metrics come from one read of the customer base's figures
  (`metrics.customer_figures`).
- The median resolution time has its own query (`definitions.tickets.median_periods`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, QuerySet

from customers.selectors import fixed_rows
from metrics import resolution_histogram, rollups
from metrics.aggregate_filter import restricted
from metrics.customer_figures import customer_figures
from metrics.definitions.base import WEIGHT, FactMetric, added, in_range, span_of
from metrics.definitions.tickets import MEDIAN_METRIC, median_periods
from metrics.periods import MetricFilters, Period
from metrics.registry import (
    CUSTOMER_METRICS,
    METRICS,
    families,
    family_key,
    family_of,
    family_rows,
)
from metrics.rollup_days import covered_days
from metrics.stats import Estimate


def compute_metric(name: str, filters: MetricFilters) -> Estimate:
    """One metric over the filters, on its own; KeyError for an unknown name."""
    definition = METRICS[name]
    if definition.from_customer_figures is not None:
        figures = customer_figures(filters, [filters.period])[0]
        return definition.from_customer_figures(figures, filters.period)
    assert definition.compute is not None, name
    return definition.compute(filters)


def _family_aggregates(members: list[tuple[str, FactMetric]]) -> dict[str, Any]:
    return {
        f"m{index}_{key}": restricted(aggregate, fact.where)
        for index, (_name, fact) in enumerate(members)
        for key, aggregate in fact.aggregates().items()
    }


def _member_row(row: Mapping[str, Any], index: int, *, prefix: str = "") -> dict[str, Any]:
    prefix = f"{prefix}m{index}_"
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


def _families(names: list[str]) -> tuple[dict[str, list[tuple[str, FactMetric]]], list[str]]:
    """Fact metrics grouped by family, each piece (`FactMetric.pieces`) in its own, where a
    family has two or more members; and the other names (a metric whose pieces are not all
    in such a family is read on its own)."""
    grouped: dict[str, list[tuple[str, FactMetric]]] = defaultdict(list)
    for name in names:
        fact = METRICS[name].fact
        if fact is not None and all(piece.family and piece.base for piece in fact.pieces):
            for piece in fact.pieces:
                grouped[piece.family].append((name, piece))
    shared = {family: members for family, members in grouped.items() if len(members) > 1}
    merged = {
        name
        for members in shared.values()
        for name, _fact in members
        if all(piece.family in shared for piece in _pieces(name))
    }
    shared = {
        family: [(name, piece) for name, piece in members if name in merged]
        for family, members in shared.items()
    }
    return (
        {family: members for family, members in shared.items() if members},
        [name for name in names if name not in merged],
    )


def _pieces(name: str) -> tuple[FactMetric, ...]:
    fact = METRICS[name].fact
    return fact.pieces if fact is not None else ()


def compute_periods(
    filters: MetricFilters,
    periods: list[Period],
    names: list[str] | None = None,
    *,
    facts: GroupedFacts | None = None,
) -> list[dict[str, Estimate]]:
    """Every metric (or those named) over the filters, for each of `periods`.

    The facts of all periods are read together: one grouped read per family of fact metrics
    (`GroupedFacts`, all periods at once), the customer-base metrics from
    `customer_figures`, and the medians (`median_periods`). The dashboard asks for a period
    and the one before it (trend arrows) and pays for one pass over each fact table. Only the
    families of the metrics named are read. Given `facts` (over the same filters and periods),
    its groups are read and kept there, for splits of the same metrics.
    """
    names = names or list(METRICS)
    results: list[dict[str, Estimate]] = [{} for _period in periods]
    facts = facts or GroupedFacts(filters, periods)
    for name in names:
        if METRICS[name].fact is not None:
            for j in range(len(periods)):
                results[j][name] = facts.compute(name, period=j)
    if MEDIAN_METRIC in names:
        for j, median in enumerate(facts.period_medians(cohorts=False)[0]):
            results[j][MEDIAN_METRIC] = median
    wanted = [name for name in names if name in CUSTOMER_METRICS]
    if wanted:
        for j, (period, figures) in enumerate(
            zip(periods, customer_figures(filters, periods), strict=True)
        ):
            for name in wanted:
                figure = METRICS[name].from_customer_figures
                assert figure is not None, name
                results[j][name] = figure(figures, period)
    for j, period in enumerate(periods):
        for name in names:
            if name not in results[j]:
                results[j][name] = compute_metric(name, filters.with_period(period))
    return [{name: figures[name] for name in names} for figures in results]


def compute_all(
    filters: MetricFilters, names: list[str] | None = None, *, facts: GroupedFacts | None = None
) -> dict[str, Estimate]:
    """Every metric (or those named) over the filters: one query per family of fact
    metrics, one for the customer-base metrics, one for the median."""
    return compute_periods(filters, [filters.period], names, facts=facts)[0]


def split_all(
    names: list[str], filters: MetricFilters, dimension: str
) -> dict[str, dict[Any, Estimate]]:
    """Several metrics split by `dimension`; a family's metrics share one grouped query."""
    splittable = [
        name
        for name in names
        if METRICS[name].split is not None and dimension in METRICS[name].dimensions
    ]
    shared, others = _families(splittable)
    results: dict[str, dict[Any, Estimate]] = {name: {} for name in names}
    gathered: dict[str, dict[Any, list[Mapping[str, Any]]]] = defaultdict(dict)
    for members in shared.values():
        base = members[0][1].base
        assert base is not None
        path = members[0][1].dimension_paths[dimension]
        rows = base(filters).values(path).annotate(**_family_aggregates(members)).order_by(path)
        for row in rows:
            for index, (name, _piece) in enumerate(members):
                gathered[name].setdefault(row[path], []).append(_member_row(row, index))
    for name, groups in gathered.items():
        fact = METRICS[name].fact
        assert fact is not None, name
        for key, parts in groups.items():
            estimate = fact.finished(added(parts))
            if estimate.n:
                results[name][key] = estimate
    for name in others:
        results[name] = split_metric(name, filters, dimension)
    return results


def split_metric(name: str, filters: MetricFilters, dimension: str) -> dict[Any, Estimate]:
    """One metric split by `dimension`; {} when the metric cannot be split that way."""
    definition = METRICS[name]
    if definition.split is None or dimension not in definition.dimensions:
        return {}
    return definition.split(filters, dimension)


# --- One grouped pass per fact table (the dashboard) -----------------------------------------


class GroupedFacts:
    """Fact metrics of several periods, grouped by every dimension at once, from one query
    per family of metrics (read lazily, once): the overall figures and every split by
    channel, operator or personalised flag are sums over those groups in Python.

    Counts add up exactly; means are pooled from the groups' means weighted by their counts
    (the same figure up to floating-point rounding). The personalised filter is applied to
    the groups rather than in SQL, so that the cohort comparison (which splits by the flag)
    reads the same rows. Medians and customer-base metrics are not fact metrics here.
    """

    def __init__(self, filters: MetricFilters, periods: list[Period]) -> None:
        self.filters = filters
        self.periods = periods
        self._rows: dict[str, tuple[list[tuple[str, FactMetric]], list[dict[str, Any]]]] = {}
        # The medians read, by whether they hold the cohort split too.
        self._medians: dict[bool, tuple[list[Estimate], dict[Any, Estimate]]] = {}
        self._covered_days: dict[str, set[dt.date]] | None = None

    def _family(
        self, name: str, piece: FactMetric | None = None
    ) -> tuple[list[tuple[str, FactMetric]], list[dict[str, Any]]]:
        """The groups of the family of metric `name` (of its part `piece`, when given)."""
        members = family_of(name, piece)
        key = family_key(members)
        if key not in self._rows:
            self._rows[key] = (members, self._read(members))
        return self._rows[key]

    def _read(self, members: list[tuple[str, FactMetric]]) -> list[dict[str, Any]]:
        """The family's groups: from the daily rollup for the days it covers (when the
        slices allow it, metrics.rollups), from the facts for the other days of the span."""
        first = members[0][1]
        base = family_rows(members)
        periods = self.periods
        span = span_of(periods)
        covered: set[dt.date] = set()
        if rollups.applies(members, self.filters):
            covered = self._covered(span).get(family_key(members), set())
        rows = rollups.read(members, self.filters, periods, covered) if covered else []
        if len(covered) >= span.days:
            return rows
        outside = rollups.uncovered_runs(covered, span)
        paths = sorted(set(first.dimension_paths.values()))
        filters = self.filters.with_personalized(None)

        def grouped(*days: dt.date) -> QuerySet[Any]:
            # The span's first and last days, the periods', then the uncovered runs'.
            bounds = list(zip(days[::2], days[1::2], strict=True))
            aggregates: dict[str, Any] = {}
            for j, (start, end) in enumerate(bounds[1 : len(periods) + 1]):
                period = Period(start, end)
                in_period = in_range(first.time_field, period.start_at, period.end_before)
                for index, (_name, fact) in enumerate(members):
                    where = fact.where if first.family else None
                    condition = (where & in_period) if where is not None else in_period
                    for key, aggregate in fact.aggregates().items():
                        aggregates[f"p{j}_m{index}_{key}"] = restricted(aggregate, condition)
                        if key == "mean":
                            value = aggregate.get_source_expressions()[0]
                            aggregates[f"p{j}_m{index}_{WEIGHT}"] = restricted(
                                Count(value), condition
                            )
            queryset = base(filters.with_period(Period(*bounds[0])))
            if outside is not None:
                queryset = queryset.filter(
                    rollups.times_in(first.time_field, bounds[len(periods) + 1 :])
                )
            return queryset.values(*paths).annotate(**aggregates).order_by()

        # Built and compiled once per process and shape (the family, the number of periods
        # and of uncovered runs, the slices): the ORM took longer to build the family's
        # filtered aggregates than the database to count a day or two of facts.
        days = [span.start, span.end]
        days += [day for period in periods for day in (period.start, period.end)]
        days += [day for run in outside or () for day in run]
        shape = (
            len(periods),
            None if outside is None else len(outside),
            filters.channel,
            filters.operator_id,
            filters.category_id,
            filters.segment,
        )
        return rows + fixed_rows(
            f"metrics facts: {family_key(members)}", grouped, key=shape, values=tuple(days)
        )

    def _covered(self, span: Period) -> dict[str, set[dt.date]]:
        """The days of the span each family's rollup covers: one query for all families."""
        if self._covered_days is None:
            self._covered_days = covered_days(
                {key: rollups.schema(members) for key, members in families().items()},
                span.start,
                span.end,
            )
        return self._covered_days

    def _pooled(
        self, name: str, period: int, dimension: str = "", key: Any = None
    ) -> Mapping[str, Any]:
        """The aggregated row of the metric over the groups (those whose `dimension` is
        `key` when given), as one aggregate over their rows would give it; a metric with
        parts adds up the rows of each part's family."""
        fact = METRICS[name].fact
        assert fact is not None, name
        return added(
            [self._pooled_piece(name, piece, period, dimension, key) for piece in fact.pieces]
        )

    def _pooled_piece(
        self, name: str, piece: FactMetric, period: int, dimension: str, key: Any
    ) -> dict[str, Any]:
        members, rows = self._family(name, piece)
        index = next(i for i, (member, _fact) in enumerate(members) if member == name)
        # Split by the flag, the cohort view ignores the filters' flag; else it selects groups.
        wanted = None if dimension == "personalized" else self.filters.personalized
        flag = piece.dimension_paths.get("personalized")
        path = piece.dimension_paths.get(dimension) if dimension else None
        parts = [
            _member_row(row, index, prefix=f"p{period}_")
            for row in rows
            if (path is None or row[path] == key)
            and (wanted is None or flag is None or row[flag] == wanted)
        ]
        total: dict[str, Any] = {}
        for name_of_key in piece.aggregates():
            if name_of_key in {"mean", "mean_sq"}:
                present = [part for part in parts if part[name_of_key] is not None]
                weight = sum(part[WEIGHT] or 0 for part in present)
                total[name_of_key] = (
                    sum(part[WEIGHT] * part[name_of_key] for part in present) / weight
                    if weight
                    else None
                )
            else:
                total[name_of_key] = sum(part[name_of_key] or 0 for part in parts)
        return total

    def medians(self) -> tuple[list[Estimate], dict[Any, Estimate]]:
        """The median resolution time of each period and its cohort split."""
        return self.period_medians(cohorts=True)

    def period_medians(self, *, cohorts: bool) -> tuple[list[Estimate], dict[Any, Estimate]]:
        """The median resolution time of each period (and its cohort split when `cohorts`):
        from the resolution-time histogram where it holds the slices and covers days of the
        span (metrics.resolution_histogram), else sorting the tickets (one query)."""
        for held in (cohorts, True):
            if held in self._medians:
                return self._medians[held]
        found = None
        span = span_of(self.periods)
        if resolution_histogram.applies(self.filters):
            covered = self._covered(span).get(resolution_histogram.FAMILY, set())
            found = resolution_histogram.medians(
                self.filters,
                self.periods,
                covered,
                rollups.facts_outside("resolved_at", covered, span),
                cohorts=cohorts,
            )
        self._medians[cohorts] = found or median_periods(
            self.filters, self.periods, cohorts=cohorts
        )
        return self._medians[cohorts]

    def compute(self, name: str, *, period: int = 0) -> Estimate:
        """The metric over the filters for the `period`-th period."""
        fact = METRICS[name].fact
        assert fact is not None, name
        return fact.finished(self._pooled(name, period))

    def split(self, name: str, dimension: str) -> dict[Any, Estimate]:
        """The metric split by `dimension` over the first period: groups with data only.
        Split by the personalised flag it ignores the filters' flag (the cohort view)."""
        definition = METRICS[name]
        if definition.fact is None or dimension not in definition.dimensions:
            return {}
        fact = definition.fact
        keys = set()
        for piece in fact.pieces:
            path = piece.dimension_paths[dimension]
            keys |= {row[path] for row in self._family(name, piece)[1]}
        out: dict[Any, Estimate] = {}
        for key in keys:
            estimate = fact.finished(self._pooled(name, 0, dimension, key))
            if estimate.n:
                out[key] = estimate
        return out
