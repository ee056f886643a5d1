"""`manage.py clv fit [--until DATE] [--json]`: fit the predictive CLV models and store them."""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.dates import site_today
from metrics import clv
from metrics.models import CLVModelFit


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--until: {value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = (
        "Fit BG/NBD (purchase counts) and Gamma-Gamma (spend) to the purchase history up to "
        "--until (default: today) and store them for the customer card; print the parameters, "
        "the log-likelihood and a calibration check on a holdout period. A fit that fails its "
        "checks (no convergence, a parameter at a bound, q <= 1) is stored as failed and the "
        "command exits with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, parser_class=ArgumentParser)
        fit = commands.add_parser("fit", help="fit and store the models")
        fit.add_argument("--until", type=_date, help="last purchase day used (YYYY-MM-DD)")
        fit.add_argument("--json", action="store_true", help="print JSON")
        fit.add_argument("--time-unit", choices=sorted(clv.DAYS_PER_UNIT), default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        until = options.get("until") or site_today()
        try:
            fit = clv.fit_and_store(until=until, time_unit=options.get("time_unit"))
        except clv.NotEnoughData as exc:
            raise CommandError(f"Cannot fit: {exc}.") from exc
        report = {
            "time_unit": fit.time_unit,
            "until": fit.until.isoformat(),
            "customers": fit.customers,
            "bgnbd": fit.params["bgnbd"],
            "gamma_gamma": fit.params["gamma_gamma"],
            "average_predicted_clv": fit.params.get("average_predicted_clv"),
            "horizon_months": fit.params.get("horizon_months"),
            "calibration": fit.calibration,
            "status": fit.status,
            "failure": fit.failure,
            "failure_reason": fit.failure_reason,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._print(fit)
        if fit.status != fit.Status.ACCEPTED:
            # Stored (so the card can say why) but unusable: a script must not take it as done.
            raise CommandError(
                f"The fit failed its checks and predicts nothing: {fit.failure_reason}."
            )

    def _print(self, fit: CLVModelFit) -> None:
        bgnbd = fit.params["bgnbd"]
        gamma_gamma = fit.params["gamma_gamma"]
        self.stdout.write(
            f"Fitted on {fit.customers} customers, purchases up to {fit.until}, "
            f"time in {fit.time_unit}s."
        )
        self.stdout.write(
            "BG/NBD: r={r:.4f} alpha={alpha:.4f} a={a:.4f} b={b:.4f} "
            "log-likelihood={log_likelihood:.2f}".format(**bgnbd)
        )
        self.stdout.write(
            "Gamma-Gamma: p={p:.4f} q={q:.4f} gamma={gamma:.4f} "
            "log-likelihood={log_likelihood:.2f}".format(**gamma_gamma)
        )
        calibration = fit.calibration
        if "predicted_purchases" in calibration:
            self.stdout.write(
                "Calibration: fitted up to {calibration_end}, predicted {predicted_purchases:.1f} "
                "purchases in the holdout to {holdout_end}, actual {actual_purchases:.0f}.".format(
                    **calibration
                )
            )
        else:
            self.stdout.write(f"Calibration: {calibration.get('error', 'not available')}.")
        if fit.status == fit.Status.ACCEPTED:
            self.stdout.write("The fit passed its checks: the card shows its predictions.")
