"""`python manage.py generate_data --customers N`: bulk data for benchmarks."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.demo.bulk import DEFAULT_BATCH_SIZE, DEFAULT_WRITERS, BulkResult, generate
from crm.jobs import run_job

DEFAULT_SEED = 1


class Command(BaseCommand):
    help = (
        "Append N generated customers with their history (contacts, purchases, interests, "
        "interactions, offers, tickets with messages and events, survey invitations and "
        "answers) for benchmarks. PostgreSQL: binary COPY through psycopg 3, from --writers "
        "threads with their own connections; elsewhere bulk_create. Each batch of customers "
        "is one transaction, so an interrupted run leaves whole customers behind. External "
        "IDs are 'gen-<customer id>' and phones are derived from the id, so runs never "
        "collide. Products ('GEN-...'), surveys ('Generated · ...') and missing SLA policies "
        "are created once; tickets go to the existing operators."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, required=True, help="how many to add")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"customers per transaction (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--writers",
            type=int,
            default=DEFAULT_WRITERS,
            help=f"PostgreSQL: concurrent COPY connections (default {DEFAULT_WRITERS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        customers = int(options["customers"])
        batch_size = int(options["batch_size"])
        if customers < 1:
            raise CommandError("--customers must be at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        writers = int(options["writers"])
        if writers < 1:
            raise CommandError("--writers must be at least 1.")
        verbosity = int(options["verbosity"])
        method = "COPY" if connection.vendor == "postgresql" else "bulk_create"
        if verbosity >= 1:
            self.stdout.write(
                f"Generating {customers} customers on {connection.vendor} ({method}), "
                f"{batch_size} per batch, seed {options['seed']}"
            )

        def progress(total: int, result: BulkResult) -> None:
            if verbosity >= 1:
                self.stdout.write(
                    f"  {result.customers}/{total} customers, {result.total_rows} rows, "
                    f"{result.seconds:.1f} s, {result.rows_per_second:,.0f} rows/s"
                )

        result = generate(
            customers=customers,
            seed=int(options["seed"]),
            batch_size=batch_size,
            writers=writers,
            progress=progress,
        )
        # Each batch's rows_written kept the purchase summary of its customers; a summary never
        # built whole (a fresh database) is built now, so the dashboard reads it.
        run_job("purchase_days")
        # COPY bypasses the purchase services: the co-purchase counts are recounted whole.
        run_job("co_purchases")
        if verbosity >= 1:
            for label, count in result.rows.items():
                self.stdout.write(f"  {count:>12,} {label}")
            self.stdout.write(
                self.style.SUCCESS(
                    f"Done: {result.customers} customers, {result.total_rows:,} rows in "
                    f"{result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)."
                )
            )
