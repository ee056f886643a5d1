"""`manage.py import_purchases FILE.csv [--skip-invalid]`: load purchase lines in bulk.

The file is checked first and written after (customers/imports.py); progress goes to standard
error every 10,000 rows of each pass, and a file imported before adds nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.imports import ImportRefused, import_purchases


class Command(BaseCommand):
    help = (
        "Import purchases from a CSV with the header customer_external_id,date,amount and an "
        "optional sku (and currency, quantity, channel, full_name) column. Unknown customers "
        "are created. A file with any bad row is refused as a whole unless --skip-invalid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file ('-' for standard input)")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the good rows and report the bad ones",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        started = time.perf_counter()

        def progress(phase: str, rows: int) -> None:
            self.stderr.write(f"{phase} {rows} rows ({time.perf_counter() - started:.1f} s)")

        try:
            if str(path) == "-":
                result = import_purchases(
                    stream=sys.stdin, skip_invalid=options["skip_invalid"], progress=progress
                )
            else:
                with path.open(newline="", encoding="utf-8-sig") as stream:
                    result = import_purchases(
                        stream=stream, skip_invalid=options["skip_invalid"], progress=progress
                    )
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {path}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text: {exc}") from exc
        except ImportRefused as exc:
            for error in exc.result.errors:
                self.stderr.write(str(error))
            if exc.header_error:
                raise CommandError(exc.header_error) from exc
            raise CommandError(
                f"{exc.result.error_count} bad row(s) of {exc.result.rows_read}; nothing was "
                "imported. Fix them, or use --skip-invalid to import the rest."
            ) from exc
        for error in result.errors:
            self.stderr.write(str(error))
        elapsed = time.perf_counter() - started
        rate = result.purchases / elapsed if elapsed else 0
        self.stdout.write(
            f"Imported {result.purchases} purchases ({result.customers_created} new customers) "
            f"from {result.rows_read} rows in {elapsed:.1f} s ({rate:.0f} rows/s); "
            f"{result.already_imported} already imported; {result.error_count} bad rows skipped."
        )
