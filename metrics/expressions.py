"""Database expressions that PostgreSQL and SQLite spell differently, made to agree."""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    Expression,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import RowNumber
from django.db.models.sql.compiler import SQLCompiler


class SecondsBetween(Func):
    """Seconds from the first datetime to the second, rounded to the millisecond (half up).

    The rounding makes SQLite's julianday arithmetic (a double) give the same figure as
    PostgreSQL's interval. PostgreSQL computes it in double precision too: EXTRACT gives a
    numeric, and rounding numerics for every ticket of a year was half the time of the
    median resolution time (150 -> 79 ms at 200,000 customers). A duration's microseconds
    fit a double exactly enough that the two differ, by a millisecond, only on exact halves
    (2 of 87,088 tickets), and the medians not at all.
    """

    arity = 2
    output_field = FloatField()

    def __init__(self, start: Any, end: Any, **extra: Any) -> None:
        super().__init__(end, start, **extra)

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="(FLOOR(DATE_PART('epoch', %(expressions)s) * 1000 + 0.5) / 1000)",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="ROUND((JULIANDAY(%(expressions)s)) * 86400.0, 3)",
            arg_joiner=") - JULIANDAY(",
            **extra,
        )


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
