"""Database expressions that PostgreSQL and SQLite spell differently, made to agree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import RowNumber

from core.expressions import SecondsBetween

__all__ = ["PercentileCont", "SecondsBetween", "WidthBucket", "median_by"]


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (interpolating between the two middle values)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"

    def __init__(self, expression: Any, *, fraction: float = 0.5, **extra: Any) -> None:
        super().__init__(expression, fraction=fraction, **extra)


def median_by(
    queryset: QuerySet[Any], value: Expression | F, *, group: str | None = None
) -> dict[Any, tuple[float | None, int]]:
    """The median of `value` over `queryset`, per value of `group` (or {None: ...} overall).

    PostgreSQL: percentile_cont(0.5). Elsewhere: number the rows in order within each group
    and average the one or two middle rows, which is the same definition; only those middle
    rows leave the database.
    """
    group_fields = [group] if group else []
    if connections[queryset.db].vendor == "postgresql":
        if group:
            rows: Any = (
                queryset.values(*group_fields)
                .annotate(median=PercentileCont(value), n=Count("pk"))
                .order_by()
            )
        else:
            rows = [queryset.aggregate(median=PercentileCont(value), n=Count("pk"))]
        return {
            (row[group] if group else None): (row["median"], row["n"]) for row in rows if row["n"]
        }
    partition = [F(group)] if group else []
    middle_rows = (
        queryset.annotate(
            _value=value,
            _row=Window(RowNumber(), partition_by=partition, order_by=[value]),
            _count=Window(Count("pk"), partition_by=partition),
        )
        # Integer division: rows (n + 1) / 2 and n / 2 + 1 are the middle one or two.
        .filter(Q(_row=(F("_count") + 1) / 2) | Q(_row=F("_count") / 2 + 1))
        .values(*group_fields, "_value", "_count")
        .order_by()
    )
    values: dict[Any, list[float]] = {}
    counts: dict[Any, int] = {}
    for row in middle_rows:
        key = row[group] if group else None
        values.setdefault(key, []).append(row["_value"])
        counts[key] = row["_count"]
    return {key: (sum(found) / len(found), counts[key]) for key, found in values.items()}


class WidthBucket(Func):
    """PostgreSQL's width_bucket over an array of edges: how many edges lie at or below the
    value (0 below the first), as `bisect.bisect_right(edges, value)` gives it."""

    function = "WIDTH_BUCKET"
    output_field = IntegerField()

    def __init__(self, expression: Any, edges: Sequence[float], **extra: Any) -> None:
        super().__init__(expression, Value(list(edges)), **extra)
