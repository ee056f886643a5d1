"""Writing generated rows fast: COPY on PostgreSQL, bulk_create elsewhere.

Rows are tuples in the order of a table's `Columns`, with their primary keys already set, so
children can point at parents without reading anything back. Ids come from the table's own
sequence on PostgreSQL (safe beside other writers) and from max(id) elsewhere (SQLite has one
writer at a time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.management.color import no_style
from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import NOT_PROVIDED, Max, Model

# Ids fetched from a PostgreSQL sequence per round trip.
ID_CHUNK = 20_000
# Rows per INSERT for bulk_create; SQLite's own limit on parameters caps it further.
BULK_CREATE_BATCH = 2_000

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Columns:
    """A model and the attributes each of its generated rows gives, in row order."""

    model: type[Model]
    attnames: tuple[str, ...]

    def check_complete(self) -> None:
        """Refuse to run if the model gained a required field this generator does not fill."""
        given = set(self.attnames)
        for field in self.model._meta.concrete_fields:
            required = not field.null and field.db_default is NOT_PROVIDED
            if required and field.attname not in given:
                raise RuntimeError(
                    f"generate_data does not fill {self.model._meta.label}.{field.attname}; "
                    "add it to crm/demo/bulk_tables.py and bulk_rows.py"
                )

    @property
    def table(self) -> str:
        """The database table of the model."""
        return self.model._meta.db_table

    def column_names(self) -> list[str]:
        """The database columns of `attnames`, in the same order."""
        columns = {field.attname: field.column for field in self.model._meta.concrete_fields}
        return [str(columns[attname]) for attname in self.attnames]


class RowWriter(Protocol):
    """Where generated rows go; `next_id` hands out primary keys for a model."""

    def next_id(self, model: type[Model]) -> int:
        """A primary key for a new row of `model`, never handed out before."""
        ...

    def write(self, columns: Columns, rows: Sequence[Row]) -> None:
        """Insert `rows` (tuples in `columns` order) into the columns' table."""
        ...

    def start_batch(self) -> None:
        """Called inside each batch's transaction, before any id is taken."""
        ...

    def finish(self) -> None:
        """Called once after the last batch."""
        ...


class PostgresCopyWriter:
    """COPY ... FROM STDIN through psycopg 3; ids drawn from each table's sequence."""

    def __init__(self, connection: BaseDatabaseWrapper = default_connection) -> None:
        self.connection = connection
        self._pools: dict[type[Model], list[int]] = {}
        self._sequences: dict[type[Model], str] = {}

    def start_batch(self) -> None:
        """Nothing to do: reserved sequence values stay ours across transactions."""

    def finish(self) -> None:
        """Nothing to do: the ids came from the sequences themselves."""

    def next_id(self, model: type[Model]) -> int:
        pool = self._pools.setdefault(model, [])
        if not pool:
            pool.extend(self._reserve(model, ID_CHUNK))
            pool.reverse()  # pop() from the end hands them out in ascending order
        return pool.pop()

    def _reserve(self, model: type[Model], count: int) -> list[int]:
        with self.connection.cursor() as cursor:
            sequence = self._sequences.get(model)
            if sequence is None:
                cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, %s)",
                    [model._meta.db_table, model._meta.pk.column],
                )
                sequence = str(cursor.fetchone()[0])
                self._sequences[model] = sequence
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
            return sorted(row[0] for row in cursor.fetchall())

    def write(self, columns: Columns, rows: Sequence[Row]) -> None:
        if not rows:
            return
        quote = self.connection.ops.quote_name
        names = ", ".join(quote(name) for name in columns.column_names())
        # Binary: no text to format here and parse there, about a third faster overall.
        sql = f"COPY {quote(columns.table)} ({names}) FROM STDIN (FORMAT BINARY)"
        with self.connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(sql) as copy:
                copy.set_types(self._types(columns))
                for row in rows:
                    copy.write_row(row)

    def _types(self, columns: Columns) -> list[str]:
        """PostgreSQL type names of the columns, without lengths: "varchar(10)" -> "varchar"."""
        fields = {field.attname: field for field in columns.model._meta.concrete_fields}
        return [
            str(fields[attname].db_type(self.connection)).split("(")[0].strip()
            for attname in columns.attnames
        ]


class BulkCreateWriter:
    """bulk_create with the ids set; for SQLite and any other database."""

    def __init__(self) -> None:
        self._next: dict[type[Model], int] = {}

    def start_batch(self) -> None:
        # Another writer may have added rows since the last batch: start above them.
        for model in list(self._next):
            self._next[model] = max(self._next[model], _max_pk(model) + 1)

    def finish(self) -> None:
        """Move sequences (where the database has them) past the ids set by hand."""
        statements = default_connection.ops.sequence_reset_sql(no_style(), list(self._next))
        if statements:
            with default_connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)

    def next_id(self, model: type[Model]) -> int:
        if model not in self._next:
            self._next[model] = _max_pk(model) + 1
        value = self._next[model]
        self._next[model] = value + 1
        return value

    def write(self, columns: Columns, rows: Sequence[Row]) -> None:
        model = columns.model
        attnames = columns.attnames
        objects = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=BULK_CREATE_BATCH)


class SQLiteWriter(BulkCreateWriter):
    """executemany of rows converted as Django's SQLite backend would, several times faster.

    bulk_create spends most of its time preparing each value through its field; here a
    column's conversion is chosen once. SQLite keeps aware datetimes as naive UTC text and
    dates as ISO text (`DatabaseOperations.adapt_*`); everything else the driver adapts.
    """

    def __init__(self, connection: BaseDatabaseWrapper = default_connection) -> None:
        super().__init__()
        self.connection = connection

    def write(self, columns: Columns, rows: Sequence[Row]) -> None:
        if not rows:
            return
        quote = self.connection.ops.quote_name
        names = ", ".join(quote(name) for name in columns.column_names())
        marks = ", ".join(["%s"] * len(columns.attnames))
        sql = f"INSERT INTO {quote(columns.table)} ({names}) VALUES ({marks})"
        converters = self._converters(columns)
        if any(converters):
            rows = [
                tuple(
                    value if convert is None or value is None else convert(value)
                    for convert, value in zip(converters, row, strict=True)
                )
                for row in rows
            ]
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _converters(self, columns: Columns) -> list[Callable[[Any], Any] | None]:
        fields = {field.attname: field for field in columns.model._meta.concrete_fields}
        converters: list[Callable[[Any], Any] | None] = []
        for attname in columns.attnames:
            kind = fields[attname].get_internal_type()
            if kind == "DateTimeField":
                converters.append(_naive_utc_text)
            elif kind == "DateField":
                converters.append(str)
            elif kind == "UUIDField":
                converters.append(_uuid_hex)  # Django keeps a UUID as 32 hex digits on SQLite
            else:
                converters.append(None)
        return converters


def _uuid_hex(value: Any) -> str:
    return str(value.hex)


def _naive_utc_text(value: dt.datetime) -> str:
    """What Django's SQLite backend stores for an aware datetime (USE_TZ, UTC connection)."""
    return str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _max_pk(model: type[Model]) -> int:
    return int(model._default_manager.aggregate(top=Max("pk"))["top"] or 0)


def writer_for(connection: BaseDatabaseWrapper = default_connection) -> RowWriter:
    """COPY on PostgreSQL with psycopg 3, executemany on SQLite, bulk_create elsewhere."""
    if connection.vendor == "postgresql" and _is_psycopg3():
        return PostgresCopyWriter(connection)
    if connection.vendor == "sqlite":
        return SQLiteWriter(connection)
    return BulkCreateWriter()


def _is_psycopg3() -> bool:
    try:
        from django.db.backends.postgresql.psycopg_any import is_psycopg3
    except ImportError:
        return False
    return bool(is_psycopg3)
