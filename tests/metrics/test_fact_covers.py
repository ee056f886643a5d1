"""The metrics' covering indexes hold every column their fact queries read (PostgreSQL).

The days the rollups do not cover yet (today, yesterday) and the median resolution are read
from the tickets and contacts themselves; a column a query reads that its cover lacks sends
it to the table for every row (issue 18: COUNT(id) and the contacts' external_id did). Each
such query the dashboard makes must read only columns one cover of its table holds (key or
INCLUDE), which is what lets PostgreSQL answer it from the index alone.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection

from metrics.engine import compute_all
from metrics.periods import MetricFilters
from tests.metrics.test_same_on_both_databases import PERIOD, _build

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="INCLUDE covers are PostgreSQL's"),
]

# The fact tables with a cover, and the cover each query of theirs is read through.
COVERED = {
    '"tickets_ticket"': ("metrics_ticket_created_cover", "metrics_ticket_resolved_cover"),
    '"customers_interaction"': ("metrics_interaction_inbound_time",),
}


def _fact_statements() -> list[tuple[str, Any]]:
    """The statements of a month's dashboard read from the facts alone (no join: those read
    other tables' columns too), with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        compute_all(MetricFilters(period=PERIOD))
    return [
        (sql, params)
        for sql, params in seen
        if " JOIN " not in sql
        and any(f"FROM {table} " in sql or sql.endswith(f"FROM {table}") for table in COVERED)
    ]


def _columns_read(sql: str, table: str) -> set[str]:
    """The columns of `table` a statement names (Django qualifies each with its table)."""
    return set(re.findall(rf'{re.escape(table)}\."(\w+)"', sql))


def _cover_columns(index: str) -> set[str]:
    """The key and INCLUDE columns of an index, and those its WHERE fixes (a partial index
    answers `direction = 'inbound'` by holding only such rows), from the catalogue."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname, a.attnum = ANY(i.indkey),"
            " coalesce(pg_get_expr(i.indpred, i.indrelid), '')"
            " FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0"
            " WHERE c.relname = %s",
            [index],
        )
        return {
            name
            for name, held, predicate in cursor.fetchall()
            if held or re.search(rf"\b{name}\b", predicate)
        }


def test_every_fact_query_of_the_dashboard_reads_only_columns_of_its_cover() -> None:
    _build()
    statements = _fact_statements()

    # The tickets created and resolved, their median resolution, the inbound contacts.
    tables = [next(t for t in COVERED if f"FROM {t}" in sql) for sql, _params in statements]
    assert tables.count('"tickets_ticket"') >= 3, tables
    assert tables.count('"customers_interaction"') >= 1, tables
    covers = {cover: _cover_columns(cover) for names in COVERED.values() for cover in names}
    assert all(covers.values()), covers  # every cover exists
    for (sql, _params), table in zip(statements, tables, strict=True):
        read = _columns_read(sql, table)
        assert any(read <= covers[cover] for cover in COVERED[table]), (
            sql[:200],
            {cover: sorted(read - covers[cover]) for cover in COVERED[table]},
        )


def test_connections_compile_no_statement_just_in_time() -> None:
    """JIT compilation cost the year's metrics 12-30 ms per statement over jit_above_cost and
    made none of them faster: the connections turn it off (crm/settings.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
