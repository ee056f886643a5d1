"""Which rolled-up days can be read: the markers (`FactRollupDay`) both daily rollups share
(the fact families', `metrics.rollups`, and the customer days', `metrics.customer_rollup`),
and the invalidation that uncovers a day when a write changes its facts.

When a day is covered (`FactRollupDay`): its `rolled_version` equals its `version` and its
`schema` is the current fingerprint of the family's aggregates (keys, expressions, dimensions
and time zone), so that a rollup made by older code is never read as complete.

Why a write is never lost (the race argument). Every write that can change a family's
aggregates on a past day bumps that day's `version` with an upsert (the row is created if
missing) inside the writer's transaction (`invalidate`). The job reads the version *before*
it reads the facts, and afterwards stores that version as `rolled_version`, never touching
`version` itself. A write the job's fact query did not see committed after that query began,
so its bump became visible after the job read the version: the final version is larger than
the stored `rolled_version` whether the bump lands before or after the job's upsert (which
waits for the writer's row lock or unique-key insert), and the day stays uncovered until the
next run. Writes to today bump nothing, and the job never rolls up the latest `RECENT_DAYS`
days (today and yesterday): a writer that decided "today" just before midnight is overtaken
only by a job that starts a whole day later, while the writer's transaction is still open.
That keeps today's writes, the busiest, free of any extra statement and of a hot row that
every writer would lock.

Where in the writer's transaction the bump comes does not matter to that argument, only that
it commits with the write. It matters to concurrent writers: the bumped markers stay locked
until commit, and two transactions that each bump several times lock them in the order of
their calls (each call's days are sorted, their union is not: the purchase summary's rebuild
bumps per 500 customers, generate_data per table). Writer A holding day 2 and waiting for
day 1 while writer B holds day 1 and waits for day 2 is a deadlock; PostgreSQL kills one of
them (`generate_data --writers 2` did so at 200,000 customers). A writer that invalidates more
than once per transaction does so inside `deferred_invalidation()`: the calls collect their
days, and the block's end bumps them all once, sorted, in one order every writer shares.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.dates import site_day, site_today
from metrics.models import FactRollupDay

# Today is still changing, and yesterday may still receive writes that decided "today" before
# midnight and bumped nothing (module docstring): neither is rolled up, both come from facts.
RECENT_DAYS = 2
# Days per grouped query when rolling up: bounds the rows held in memory at once.
BATCH_DAYS = 31
# Rows per upsert statement of the invalidation (well below SQLite's parameter limit).
INVALIDATE_CHUNK = 300


# --- Covered days ---------------------------------------------------------------------------


def read_versions(family: str, first: dt.date, last: dt.date) -> dict[dt.date, int]:
    """The markers' versions of the days (0 where none): read before the facts (docstring)."""
    rows = FactRollupDay.objects.filter(family=family, day__gte=first, day__lte=last)
    versions = dict(rows.values_list("day", "version"))
    return {day: versions.get(day, 0) for day in days_from(first, last)}


def mark_covered(family: str, versions: Mapping[dt.date, int], fingerprint: str) -> None:
    """Mark each day covered by the version read before its facts were, with the rollup's
    fingerprint (upserts; call in the transaction that writes the day's rows)."""
    now = timezone.now()
    FactRollupDay.objects.bulk_create(
        [
            FactRollupDay(
                family=family,
                day=day,
                version=version,
                rolled_version=version,
                schema=fingerprint,
                rolled_at=now,
            )
            for day, version in versions.items()
        ],
        update_conflicts=True,
        unique_fields=["family", "day"],
        # Never `version`: a bump that came in meanwhile must survive (docstring).
        update_fields=["rolled_version", "schema", "rolled_at"],
    )


def covered_days(
    family_schemas: Mapping[str, str], first: dt.date, last: dt.date
) -> dict[str, set[dt.date]]:
    """The days from `first` to `last` whose rollup can be read, per family: one query."""
    rows = FactRollupDay.objects.filter(
        family__in=list(family_schemas), day__gte=first, day__lte=last
    ).values_list("family", "day", "version", "rolled_version", "schema")
    covered: dict[str, set[dt.date]] = {family: set() for family in family_schemas}
    for family, day, version, rolled_version, fingerprint in rows:
        if rolled_version == version and fingerprint == family_schemas[family]:
            covered[family].add(day)
    return covered


def last_rollable_day(on: dt.date) -> dt.date:
    """The last day a job running for `on` rolls up: `RECENT_DAYS` before it, never later
    than today allows."""
    return min(on, site_today()) - dt.timedelta(days=RECENT_DAYS)


# --- Runs of days ---------------------------------------------------------------------------


def days_from(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def runs(days: Iterable[dt.date], *, longest: int | None = None) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) ranges, each at most `longest` days long."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs:
            first, last = runs[-1]
            fits = longest is None or (day - first).days < longest
            if day == last + dt.timedelta(days=1) and fits:
                runs[-1] = (first, day)
                continue
        runs.append((day, day))
    return runs


def days_in(runs: list[tuple[dt.date, dt.date]]) -> Q:
    condition = Q()
    for first, last in runs:
        condition |= Q(day__gte=first, day__lte=last)
    return condition


# --- Invalidation ---------------------------------------------------------------------------


def local_day(value: Any) -> dt.date | None:
    """The site-local day of a stored instant (None for none)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, dt.datetime):
        return None
    return site_day(value)


# Per thread (Django's connections are) and database alias: the keys a deferred_invalidation()
# block collected so far.
_deferred = threading.local()


def _collecting(using: str) -> set[tuple[str, dt.date]] | None:
    return getattr(_deferred, "keys", {}).get(using)


@contextmanager
def deferred_invalidation(*, using: str = "default") -> Iterator[None]:
    """Inside the block `invalidate` only collects its days; the block's end bumps them all,
    once each and sorted, inside the same transaction (the block is atomic). For a writer that
    invalidates more than once per transaction: concurrent writers then lock the markers in one
    order (module docstring). Nested blocks leave the bump to the outermost."""
    if _collecting(using) is not None:
        yield
        return
    blocks: dict[str, set[tuple[str, dt.date]]] = getattr(_deferred, "keys", None) or {}
    _deferred.keys = blocks
    keys = blocks[using] = set()
    try:
        with transaction.atomic(using=using, savepoint=False):
            yield
            del blocks[using]  # the bump below is the real one
            _bump(sorted(keys), using=using)
    finally:
        blocks.pop(using, None)


def invalidate(pairs: Iterable[tuple[str, dt.date | None]], *, using: str = "default") -> int:
    """Bump the version of each (family, day) before today, creating the marker where missing
    (so that a rollup job running now cannot mark the day covered without this write); call
    it inside the writer's transaction. Returns the days bumped (inside
    `deferred_invalidation()`, the days it will bump at the block's end).

    Today is skipped: the job rolls up nothing later than `RECENT_DAYS` (two) days ago, so a
    write that found "today" here is rolled up only by a job starting a day after it."""
    today = site_today()
    keys = {(family, day) for family, day in pairs if day is not None and day < today}
    collected = _collecting(using)
    if collected is not None:
        collected |= keys
        return len(keys)
    _bump(sorted(keys), using=using)
    return len(keys)


def _bump(keys: list[tuple[str, dt.date]], *, using: str) -> None:
    """The upserts of `invalidate`, in the order given (sorted by every caller)."""
    if not keys:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(FactRollupDay._meta.db_table)
    family, day, version, fingerprint = (quote(c) for c in ("family", "day", "version", "schema"))
    # Sorted keys: concurrent writers lock the marker rows in one order (no deadlock).
    with connection.cursor() as cursor:
        for start in range(0, len(keys), INVALIDATE_CHUNK):
            chunk = keys[start : start + INVALIDATE_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({family}, {day}, {version}, {fingerprint}) VALUES "
                + ", ".join(["(%s, %s, 1, '')"] * len(chunk))
                + f" ON CONFLICT ({family}, {day}) DO UPDATE SET {version} = {table}.{version} + 1",
                [value for key in chunk for value in key],
            )
