"""python manage.py run_job <name> [--date YYYY-MM-DD]: run a scheduled job by hand, now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.jobs import JOBS, run_job


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a date as YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = "Run one of the scheduled jobs synchronously and print its summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the job: " + ", ".join(sorted(JOBS)))
        parser.add_argument("--date", help="the day to run it for (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        if name not in JOBS:
            raise CommandError(f"Unknown job {name!r}; choose one of: {', '.join(sorted(JOBS))}.")
        on = _day(options["date"]) if options["date"] else None
        summary = run_job(name, on=on)
        details = " ".join(f"{key}={value}" for key, value in summary.items())
        self.stdout.write(f"{name}: {details}")
