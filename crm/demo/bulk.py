"""generate_data: many customers with a plausible history, written as fast as the database takes.

Each batch of customers is drawn in memory as plain tuples with their ids (bulk_rows) and
written in one transaction: binary COPY on PostgreSQL, bulk_create elsewhere (writers).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
import zoneinfo
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import OPERATORS
from crm.demo.bulk_rows import BatchRows, BulkContext, CatalogueLine
from crm.demo.bulk_tables import TABLES, table_label
from crm.demo.catalogue import PRODUCTS, ensure_catalogue
from crm.demo.service import ensure_sla_policies, ensure_surveys
from crm.demo.writers import PostgresCopyWriter, RowWriter, writer_for
from customers.signals import send_rows_written
from metrics.rollup_days import deferred_invalidation

DEFAULT_BATCH_SIZE = 5_000
# Concurrent COPY connections on PostgreSQL. Two keep a two-core machine busy (about 20%
# faster than one, measured with 40k customers); more need more cores to pay off.
DEFAULT_WRITERS = 2
GENERATED_SKU_PREFIX = "GEN"
GENERATED_SLUG_PREFIX = "gen-"
GENERATED_NAME_PREFIX = "Generated · "


@dataclass
class BulkResult:
    """How many customers and rows of each table a run wrote, and in how long."""

    customers: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


Progress = Callable[[int, BulkResult], None]


class BulkGenerator:
    """Generates customers with their history in batches; one transaction per batch."""

    def __init__(
        self,
        *,
        customers: int,
        seed: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        writers: int = DEFAULT_WRITERS,
        now: dt.datetime | None = None,
        writer: RowWriter | None = None,
    ) -> None:
        self.total = customers
        self.batch_size = max(1, batch_size)
        self.writers = max(1, writers)
        self.seed = seed
        self.now = now or timezone.now()
        self.writer = writer or writer_for()
        for columns in TABLES:
            columns.check_complete()

    def _setup(self) -> BulkContext:
        """Catalogue, surveys, SLA policies and operators: what every batch shares."""
        with transaction.atomic():
            products = ensure_catalogue(
                sku_prefix=GENERATED_SKU_PREFIX, slug_prefix=GENERATED_SLUG_PREFIX
            )
            surveys = ensure_surveys(name_prefix=GENERATED_NAME_PREFIX, automatic=False)
            policies = ensure_sla_policies(name_prefix=GENERATED_NAME_PREFIX)
        catalogue = [
            CatalogueLine(
                id=products[spec.key].pk,
                price=Decimal(spec.price),
                warranty_months=spec.warranty_months,
                support_months=spec.support_months,
                subscription_months=spec.subscription_months,
                is_active=spec.is_active,
            )
            for spec in PRODUCTS
        ]
        group = Group.objects.filter(name=OPERATORS).first()
        staff: list[tuple[int | None, int | None]] = (
            list(
                User.objects.filter(groups=group, is_active=True)
                .order_by("pk")
                .values_list("pk", "team_id")
            )
            if group
            else []
        )
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        return BulkContext(
            rng=random.Random(self.seed),
            now=self.now,
            zone=zone,
            today=self.now.astimezone(zone).date(),
            currency=settings.DEFAULT_CURRENCY,
            next_id=self.writer.next_id,
            catalogue=catalogue,
            cumulative_weights=list(itertools.accumulate(spec.weight for spec in PRODUCTS)),
            on_sale=[line for line in catalogue if line.is_active],
            surveys=surveys,
            policies={
                policy.priority: (
                    policy.pk,
                    policy.first_response_minutes,
                    policy.resolution_minutes,
                )
                for policy in policies.values()
            },
            operators=staff or [(None, None)],
        )

    def run(self, progress: Progress | None = None) -> BulkResult:
        """Generate and write all customers; `progress` is told after every batch.

        On PostgreSQL outside a transaction, batches are generated here while `writers`
        threads COPY earlier ones, each over its own connection and in its own transaction:
        the database, not Python, sets the pace. Inside a transaction (tests, a caller's
        atomic block) everything runs in order on the caller's connection.
        """
        started = time.perf_counter()
        self.context = self._setup()
        result = BulkResult(customers=0, rows={table_label(columns): 0 for columns in TABLES})

        def done(size: int, counts: dict[str, int]) -> None:
            result.customers += size
            for label, count in counts.items():
                result.rows[label] += count
            result.seconds = time.perf_counter() - started
            if progress is not None:
                progress(self.total, result)

        sizes = [
            min(self.batch_size, self.total - first)
            for first in range(0, self.total, self.batch_size)
        ]
        if isinstance(self.writer, PostgresCopyWriter) and not connection.in_atomic_block:
            self._run_pipelined(sizes, done)
        else:
            for size in sizes:
                with transaction.atomic():
                    self.writer.start_batch()
                    counts = self._write(self._generate(size))
                done(size, counts)
        self.writer.finish()
        result.seconds = time.perf_counter() - started
        return result

    def _run_pipelined(self, sizes: list[int], done: Callable[[int, dict[str, int]], None]) -> None:
        writers = self.writers
        with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="generate-data") as pool:
            pending: deque[tuple[int, Future[dict[str, int]]]] = deque()
            for size in sizes:
                batch = self._generate(size)  # ids come from sequences: no transaction needed
                while len(pending) >= writers:  # at most `writers` batches wait in memory
                    finished, future = pending.popleft()
                    done(finished, future.result())
                pending.append((size, pool.submit(self._write_in_thread, batch)))
            while pending:
                finished, future = pending.popleft()
                done(finished, future.result())

    def _generate(self, size: int) -> BatchRows:
        batch = BatchRows(self.context)
        for _customer in range(size):
            batch.customer()
        return batch

    def _write(self, batch: BatchRows) -> dict[str, int]:
        # Every table's rows uncover rolled-up days: bumped once, sorted, at the batch's end, so
        # that concurrent writers lock those markers in one order (metrics.rollup_days).
        with deferred_invalidation():
            for columns in TABLES:
                rows = batch.rows[columns]
                self.writer.write(columns, rows)
                named = (dict(zip(columns.attnames, row, strict=True)) for row in rows)
                send_rows_written(columns.model, named)
        return {table_label(columns): len(batch.rows[columns]) for columns in TABLES}

    def _write_in_thread(self, batch: BatchRows) -> dict[str, int]:
        """Write one batch in its own transaction, on this thread's own connection."""
        try:
            with transaction.atomic():
                return self._write(batch)
        finally:
            connection.close()  # a thread's connection is never reused by anyone else


def generate(
    *,
    customers: int,
    seed: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    writers: int = DEFAULT_WRITERS,
    progress: Progress | None = None,
    **options: Any,
) -> BulkResult:
    """Generate `customers` customers with their history; see BulkGenerator."""
    generator = BulkGenerator(
        customers=customers, seed=seed, batch_size=batch_size, writers=writers, **options
    )
    return generator.run(progress)
