"""`python manage.py seed_demo [--seed N]`: load the demo company, once."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from crm.demo.reset import DemoDataInUse, clear_demo_data, demo_counts, demo_data_present
from crm.demo.seed import DEFAULT_CUSTOMERS, DEFAULT_SEED, DEMO_PASSWORD, DemoResult, seed_demo


class Command(BaseCommand):
    help = (
        "Load a believable demo company: customers (half Russian-, half English-speaking), "
        "contacts, a product catalogue, purchases, interests, contacts on every channel, "
        "offers, reminders, operators and a supervisor, tickets and CSAT/NPS/CES answers. "
        "The same --seed gives the same data (its times laid back from now). "
        "Runs once: if demo data is already there it changes nothing and says so (exit 0); "
        "--reset removes the demo data, and only it, then seeds again; --clear only removes it. "
        "Demo rows are the customers with external ID 'demo-c-...' and everything they have, "
        "products 'DEMO-...', categories 'demo-...', surveys and SLA policies named "
        "'Demo · ...'; the demo staff ('demo.*'), teams and tags are kept and updated. "
        "Staff get the password --password, or '" + DEMO_PASSWORD + "' when DEBUG is on, "
        "else an unusable one. Everything happens in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}"
        )
        parser.add_argument(
            "--customers",
            type=int,
            default=DEFAULT_CUSTOMERS,
            help=f"how many customers (default {DEFAULT_CUSTOMERS})",
        )
        what = parser.add_mutually_exclusive_group()
        what.add_argument(
            "--reset", action="store_true", help="remove existing demo data, then seed again"
        )
        what.add_argument("--clear", action="store_true", help="remove demo data and stop")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", help="the demo staff's password")
        secret.add_argument(
            "--no-password",
            action="store_true",
            help="give the demo staff an unusable password",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        if options["customers"] < 1:
            raise CommandError("--customers must be at least 1.")
        password = self._password(options)
        try:
            with transaction.atomic():
                if options["clear"] or options["reset"]:
                    removed = clear_demo_data()
                    self._say(f"Removed demo data: {_summary(removed)}.")
                    if options["clear"]:
                        return
                elif demo_data_present():
                    counts = demo_counts()
                    self._say(
                        f"Demo data is already loaded ({counts['customers']} demo customers); "
                        "nothing changed. Use --reset to replace it or --clear to remove it.",
                        style=self.style.WARNING,
                    )
                    return
                result = seed_demo(
                    seed=options["seed"], customers=options["customers"], password=password
                )
        except DemoDataInUse as exc:
            raise CommandError(str(exc)) from exc
        self._report(result, password=password, seed=options["seed"])

    def _password(self, options: dict[str, Any]) -> str | None:
        if options["no_password"]:
            return None
        if options["password"]:
            return str(options["password"])
        # A password printed in a README must never guard a real server.
        return DEMO_PASSWORD if settings.DEBUG else None

    def _say(self, message: str, style: Any = None) -> None:
        if self.verbosity >= 1:
            self.stdout.write(style(message) if style else message)

    def _report(self, result: DemoResult, *, password: str | None, seed: int) -> None:
        self._say(
            f"Demo company loaded with seed {seed} in {result.seconds:.1f} s: "
            f"{_summary(result.counts)}.",
            style=self.style.SUCCESS,
        )
        self._say("Demo staff (log in at /admin/):")
        for user in result.users:
            self._say(f"  {user.username:<16} {user.role:<12} {user.team:<12} {user.full_name}")
        if password:
            self._say(f"Password for all of them: {password}")
        else:
            self._say(
                "They have no usable password (DEBUG is off or --no-password was given); "
                "set one with `manage.py changepassword <username>`."
            )


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {label}" for label, count in counts.items())
