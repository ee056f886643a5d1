"""Customer lifetime value: predictive (BG/NBD with Gamma-Gamma), fitted by maximum
likelihood, and one customer's value for the card. (The historical and simple CLV metrics
over a period are customer-base metrics: `metrics.definitions.customer_base`.)

Predictive models: the beta-geometric / negative binomial distribution model of repeat
purchase counts (Fader, Hardie & Lee 2005, "Counting your customers the easy way") and the
Gamma-Gamma model of the mean transaction value (Fader & Hardie 2013, "The Gamma-Gamma model
of monetary value"). No maintained library installs cleanly with current NumPy/SciPy without
pulling in a probabilistic-programming stack (btyd needs PyMC 4 and Aesara; lifetimes is
unmaintained), so the published log-likelihoods are implemented here, vectorised, and
maximised with SciPy over log-parameters (which keeps every parameter positive).

Conventions of the published work: purchases of one customer on one day (site time zone) are
one transaction; frequency x = repeat transactions (all but the first); recency t_x = time from
the first to the last transaction; age T = time from the first transaction to the end of the
observation; monetary value = mean value of the repeat transactions. Time is counted in
`settings.CLV_TIME_UNIT` ("week" by default, or "day").
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from numpy.typing import NDArray
from scipy import optimize, special

from core.dates import site_day, site_day_start, site_today
from customers.models import Purchase
from customers.selectors import (
    HistoricalValue,
    average_order_value,
    customer_rows,
    fixed_rows,
    order_day,
)
from metrics.models import CLVModelFit
from metrics.periods import DAYS_PER_YEAR

DAYS_PER_UNIT = {"week": 7.0, "day": 1.0}
MONTHS_PER_YEAR = 12
# Starting point of the optimiser, on the log scale: all four parameters at 1.
INITIAL_LOG_PARAMS = 0.0
# The optimiser stops when the log-likelihood improves by less than this.
FIT_TOLERANCE = 1e-9
MAX_ITERATIONS = 5_000
# What the optimiser sees at a point where the likelihood is not finite.
IMPOSSIBLE = 1e300
# Every parameter is searched within these bounds (on the scale the optimiser sees; money
# scaled to a mean of 1). A maximum found within BOUNDARY_MARGIN (log scale) of one is no
# maximum: the likelihood still rises towards a degenerate limit (e.g. BG/NBD's a -> 0 with
# b -> infinity, "nobody ever leaves"), and predictions from it are nonsense.
PARAMETER_BOUNDS = (1e-6, 1e6)
BOUNDARY_MARGIN = 0.01
# Predictions beyond these are treated as unsound whatever the fit: no shop's customer makes
# this many purchases in a horizon or is worth this much (the card's boxes hold the digits).
MAX_EXPECTED_PURCHASES = 10_000.0
MAX_PREDICTED_VALUE = 1e12
CENT = Decimal("0.01")

FloatArray = NDArray[np.float64]


class NotEnoughData(ValueError):
    """Too few customers or repeat purchases to fit a model."""


@dataclass(frozen=True)
class Problem:
    """Why a fit cannot be used: a CLVModelFit.Failure code and a sentence for people."""

    code: str
    detail: str


def _bound_problems(model: str, values: dict[str, float]) -> list[Problem]:
    low, high = (math.log(bound) for bound in PARAMETER_BOUNDS)
    at_bound = [
        f"{name}={value:.3g}"
        for name, value in values.items()
        if not math.isfinite(value)
        or value <= 0
        or math.log(value) <= low + BOUNDARY_MARGIN
        or math.log(value) >= high - BOUNDARY_MARGIN
    ]
    if not at_bound:
        return []
    return [
        Problem(
            CLVModelFit.Failure.BOUNDARY,
            f"{model} ran to the boundary of the parameter space ({', '.join(at_bound)})",
        )
    ]


# --- Summaries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Per-customer RFM arrays, in `time_unit`s, as of `until` (inclusive)."""

    customer_ids: NDArray[np.int64]
    frequency: FloatArray  # repeat transactions
    recency: FloatArray  # first to last transaction
    age: FloatArray  # first transaction to the end of `until`
    monetary: FloatArray  # mean value of repeat transactions; 0 where frequency is 0
    time_unit: str

    def __len__(self) -> int:
        return len(self.customer_ids)


def _daily_transactions(*, until: dt.date) -> tuple[str, tuple[Any, ...]]:
    """SQL of (customer_id, day, revenue): completed purchases per customer and day."""
    zone = timezone.get_default_timezone()
    queryset = (
        Purchase.objects.filter(
            status=Purchase.Status.COMPLETED,
            purchased_at__lt=site_day_start(until + dt.timedelta(days=1)),
        )
        .annotate(day=TruncDate("purchased_at", tzinfo=zone))
        .values("customer_id", "day")
        .annotate(revenue=Sum("amount"))
        .order_by()
    )
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def summarise(*, until: dt.date, time_unit: str | None = None) -> Summary:
    """Frequency, recency, age and monetary value of every customer, from one SQL query."""
    unit = time_unit or settings.CLV_TIME_UNIT
    days_per_unit = DAYS_PER_UNIT[unit]
    inner, params = _daily_transactions(until=until)
    sql = f"""
        SELECT customer_id, COUNT(*), MIN(day), MAX(day), SUM(revenue),
               SUM(CASE WHEN day_number = 1 THEN revenue ELSE 0 END)
        FROM (
            SELECT daily.customer_id, daily.day, daily.revenue,
                   ROW_NUMBER() OVER (PARTITION BY daily.customer_id ORDER BY daily.day)
                       AS day_number
            FROM ({inner}) daily
        ) numbered
        GROUP BY customer_id
        ORDER BY customer_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    count = len(rows)
    ids = np.empty(count, dtype=np.int64)
    frequency, recency, age, monetary = (np.zeros(count) for _ in range(4))
    end = until + dt.timedelta(days=1)
    for index, (customer_id, days, first, last, total, first_revenue) in enumerate(rows):
        first_day, last_day = _as_date(first), _as_date(last)
        ids[index] = customer_id
        frequency[index] = days - 1
        recency[index] = (last_day - first_day).days / days_per_unit
        age[index] = (end - first_day).days / days_per_unit
        if days > 1:
            monetary[index] = (float(total) - float(first_revenue)) / (days - 1)
    return Summary(ids, frequency, recency, age, monetary, unit)


# --- BG/NBD -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = math.nan
    converged: bool = True

    def as_dict(self) -> dict[str, float]:
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
        }

    def problems(self) -> list[Problem]:
        """What makes this fit unusable: no convergence or a parameter at a boundary."""
        # A search that ran to a boundary often stops without meeting its convergence test
        # too (newer SciPy says so): the boundary, the cause, is named first.
        found = _bound_problems(
            "BG/NBD", {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}
        )
        if not self.converged or not math.isfinite(self.log_likelihood):
            found.append(Problem(CLVModelFit.Failure.NOT_CONVERGED, "BG/NBD did not converge"))
        return found

    def probability_alive(self, x: Any, t_x: Any, T: Any) -> FloatArray:
        """P(still active | x, t_x, T) (FHL 2005, eq. 11)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        log_ratio = (
            np.log(self.a)
            - np.log(np.maximum(self.b + x - 1, 1e-300))
            + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
        )
        odds = np.where(x > 0, np.exp(np.minimum(log_ratio, 700)), 0.0)
        return np.asarray(1.0 / (1.0 + odds), dtype=float)

    def expected_purchases(self, t: Any, x: Any, t_x: Any, T: Any) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next t units (eq. 10)."""
        t, x, t_x, T = (np.asarray(v, dtype=float) for v in (t, x, t_x, T))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1) < 1e-9:
            # Eq. 10 divides by a - 1 (it holds on both sides of 1, not at 1).
            raise NotEnoughData("BG/NBD conditional expectation is undefined at a = 1")
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
        alive = self.probability_alive(x, t_x, T)
        # The denominator of eq. 10 is 1 / P(alive).
        return np.asarray(first * second * alive, dtype=float)


def bgnbd_log_likelihood(
    params: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Per-customer log-likelihood of BG/NBD (FHL 2005, eq. 6)."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    # log B(a, b + x) - log B(a, b), written with betaln: the same sum of four log-gammas
    # cancels catastrophically once b is large (at b ~ 1e16 one unit in the last place of
    # lgamma(b) is ~64, which let the optimiser "find" a positive log-likelihood there).
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=float)


def _maximise(negative: Any, size: int) -> tuple[FloatArray, float, bool]:
    """Minimise over log-parameters within PARAMETER_BOUNDS: (parameters, maximum, converged)."""
    start = np.full(size, INITIAL_LOG_PARAMS)
    bounds = [tuple(math.log(bound) for bound in PARAMETER_BOUNDS)] * size
    result = optimize.minimize(
        negative,
        start,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-7, "fatol": FIT_TOLERANCE, "maxiter": MAX_ITERATIONS},
    )
    # Polish the simplex result with a gradient method from where it stopped.
    polished = optimize.minimize(negative, result.x, method="L-BFGS-B", bounds=bounds)
    best = polished if polished.fun <= result.fun else result
    # Either method reaching its own stopping rule counts (the gradient polish often reports a
    # failed line search at an optimum the simplex already settled); the penalty for an
    # impossible point is 1e300, and a "maximum" there is no fit at all.
    settled = bool(result.success) or bool(polished.success)
    converged = settled and math.isfinite(best.fun) and best.fun < IMPOSSIBLE / 10
    return np.exp(best.x), -float(best.fun), converged


def fit_bgnbd(x: Any, t_x: Any, T: Any) -> BGNBD:
    """Maximum-likelihood BG/NBD parameters for frequency, recency and age arrays."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) == 0 or not np.any(x > 0):
        raise NotEnoughData("BG/NBD needs customers with repeat purchases")

    def negative(log_params: FloatArray) -> float:
        value = -float(np.sum(bgnbd_log_likelihood(np.exp(log_params), x, t_x, T)))
        return value if math.isfinite(value) else IMPOSSIBLE

    (r, alpha, a, b), log_likelihood, converged = _maximise(negative, 4)
    return BGNBD(
        float(r),
        float(alpha),
        float(a),
        float(b),
        log_likelihood=log_likelihood,
        converged=converged,
    )


# --- Gamma-Gamma ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma parameters of the mean transaction value (p, q, gamma)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = math.nan
    converged: bool = True
    # The mean spend the parameters were searched around (bounds apply to gamma / scale).
    scale: float = 1.0

    def problems(self) -> list[Problem]:
        """What makes this fit unusable: no convergence, a boundary, or q <= 1."""
        found = _bound_problems(
            "Gamma-Gamma", {"p": self.p, "q": self.q, "gamma": self.gamma / self.scale}
        )  # the cause first, as for BG/NBD
        if not self.converged or not math.isfinite(self.log_likelihood):
            found.append(Problem(CLVModelFit.Failure.NOT_CONVERGED, "Gamma-Gamma did not converge"))
        if self.q <= 1:
            found.append(
                Problem(
                    CLVModelFit.Failure.NO_MEAN_SPEND,
                    f"Gamma-Gamma q={self.q:.3g} <= 1: the mean spend does not exist",
                )
            )
        return found

    def as_dict(self) -> dict[str, float]:
        return {
            "p": self.p,
            "q": self.q,
            "gamma": self.gamma,
            "log_likelihood": self.log_likelihood,
        }

    def expected_spend(self, x: Any, m: Any) -> FloatArray:
        """E[M | x, m]: the expected value of one transaction (Fader & Hardie 2013, eq. 5).

        With no repeat transaction it is the population mean p * gamma / (q - 1).
        """
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        if self.q <= 1:
            raise NotEnoughData("Gamma-Gamma expectation needs q > 1")
        return np.asarray(self.p * (self.gamma + x * m) / (self.p * x + self.q - 1), dtype=float)


def gamma_gamma_log_likelihood(params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
    """Per-customer log-likelihood of the mean of x transactions, m (F&H 2013, eq. 3)."""
    p, q, gamma = params
    px = p * x
    return np.asarray(
        -special.betaln(px, q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m),
        dtype=float,
    )


def fit_gamma_gamma(x: Any, m: Any) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from repeat customers (x > 0, m > 0)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) == 0:
        raise NotEnoughData("Gamma-Gamma needs customers with repeat purchases")
    # Scale money to about 1 so that one starting point suits roubles and dollars alike.
    scale = float(np.mean(m))
    scaled = m / scale

    def negative(log_params: FloatArray) -> float:
        value = -float(np.sum(gamma_gamma_log_likelihood(np.exp(log_params), x, scaled)))
        return value if math.isfinite(value) else IMPOSSIBLE

    (p, q, gamma), log_likelihood, converged = _maximise(negative, 3)
    # Undo the scaling: gamma carries the unit of money; the likelihood of m is the scaled
    # density divided by the scale once per customer.
    return GammaGamma(
        float(p),
        float(q),
        float(gamma * scale),
        log_likelihood=log_likelihood - len(x) * math.log(scale),
        converged=converged,
        scale=scale,
    )


# --- Value over a horizon -------------------------------------------------------------------


def discounted_value(
    bgnbd: BGNBD,
    spend: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    *,
    time_unit: str,
    horizon_months: int,
    annual_discount_rate: float,
) -> tuple[FloatArray, FloatArray]:
    """Discounted expected value over the horizon, and expected purchases in it.

    The horizon is cut into months; each month's expected purchases (the increase of
    E[Y(t)]) times the expected spend is discounted at the monthly rate equivalent to the
    yearly one.
    """
    units_per_month = DAYS_PER_YEAR / MONTHS_PER_YEAR / DAYS_PER_UNIT[time_unit]
    monthly_rate = (1 + annual_discount_rate) ** (1 / MONTHS_PER_YEAR) - 1
    value = np.zeros_like(np.asarray(x, dtype=float))
    previous = np.zeros_like(value)
    for month in range(1, horizon_months + 1):
        cumulative = bgnbd.expected_purchases(month * units_per_month, x, t_x, T)
        value += spend * (cumulative - previous) / (1 + monthly_rate) ** month
        previous = cumulative
    return value, previous


# --- Fitting, storing, calibrating ----------------------------------------------------------


def _holdout_purchases(
    customer_ids: NDArray[np.int64], *, after: dt.date, until: dt.date
) -> FloatArray:
    """Transactions (customer-days) in (after, until] for each customer, in id order."""
    zone = timezone.get_default_timezone()
    rows = (
        Purchase.objects.filter(
            status=Purchase.Status.COMPLETED,
            purchased_at__gte=site_day_start(after + dt.timedelta(days=1)),
            purchased_at__lt=site_day_start(until + dt.timedelta(days=1)),
        )
        .values("customer_id")
        .annotate(days=Count(TruncDate("purchased_at", tzinfo=zone), distinct=True))
        .order_by()
    )
    counts = {row["customer_id"]: row["days"] for row in rows}
    return np.array([counts.get(int(cid), 0) for cid in customer_ids], dtype=float)


def calibration_check(*, until: dt.date, holdout_days: int, time_unit: str) -> dict[str, Any]:
    """Fit on purchases up to `until - holdout_days`, predict the holdout, compare."""
    calibration_end = until - dt.timedelta(days=holdout_days)
    summary = summarise(until=calibration_end, time_unit=time_unit)
    result: dict[str, Any] = {
        "calibration_end": calibration_end.isoformat(),
        "holdout_end": until.isoformat(),
        "holdout_periods": holdout_days / DAYS_PER_UNIT[time_unit],
        "customers": len(summary),
    }
    try:
        model = fit_bgnbd(summary.frequency, summary.recency, summary.age)
        predicted = model.expected_purchases(
            holdout_days / DAYS_PER_UNIT[time_unit], summary.frequency, summary.recency, summary.age
        )
    except NotEnoughData as exc:
        return {**result, "error": str(exc)}
    if problems := model.problems():
        # The calibration fit is judged as the stored one is: its numbers are no check.
        return {**result, "bgnbd": model.as_dict(), "error": "; ".join(p.detail for p in problems)}
    actual = _holdout_purchases(summary.customer_ids, after=calibration_end, until=until)
    by_frequency = []
    for low, high in ((0, 0), (1, 1), (2, 2), (3, 4), (5, 9), (10, None)):
        mask = summary.frequency >= low
        if high is not None:
            mask &= summary.frequency <= high
        by_frequency.append(
            {
                "frequency": f"{low}"
                if low == high
                else f"{low}+"
                if high is None
                else f"{low}-{high}",
                "customers": int(mask.sum()),
                "predicted": float(predicted[mask].sum()),
                "actual": float(actual[mask].sum()),
            }
        )
    total_actual = float(actual.sum())
    return {
        **result,
        "bgnbd": model.as_dict(),
        "predicted_purchases": float(predicted.sum()),
        "actual_purchases": total_actual,
        "ratio": float(predicted.sum()) / total_actual if total_actual else None,
        "mean_absolute_error": float(np.mean(np.abs(predicted - actual))),
        "by_frequency": by_frequency,
    }


def _prediction_problems(values: FloatArray, purchases: FloatArray) -> list[Problem]:
    """Predictions no sound model makes: not finite, negative, or beyond the named bounds."""
    sound = (
        np.isfinite(values)
        & np.isfinite(purchases)
        & (values >= 0)
        & (purchases >= 0)
        & (values <= MAX_PREDICTED_VALUE)
        & (purchases <= MAX_EXPECTED_PURCHASES)
    )
    if bool(np.all(sound)):
        return []
    return [
        Problem(
            CLVModelFit.Failure.UNSOUND_PREDICTIONS,
            f"{int(np.sum(~sound))} customers get an impossible prediction",
        )
    ]


@transaction.atomic
def fit_and_store(*, until: dt.date, time_unit: str | None = None) -> CLVModelFit:
    """Fit BG/NBD and Gamma-Gamma to purchases up to `until` and store the fit.

    A fit that did not converge, ran to a boundary of the parameter space, has a spend model
    without a mean (q <= 1) or predicts impossible values is stored as failed with the reason,
    and predicts nothing. Raises NotEnoughData when there are no repeat purchases to learn from.
    """
    unit = time_unit or settings.CLV_TIME_UNIT
    if unit not in DAYS_PER_UNIT:
        raise ValueError(f"unknown time unit {unit!r}")
    summary = summarise(until=until, time_unit=unit)
    bgnbd = fit_bgnbd(summary.frequency, summary.recency, summary.age)
    gamma_gamma = fit_gamma_gamma(summary.frequency, summary.monetary)
    params: dict[str, Any] = {"bgnbd": bgnbd.as_dict(), "gamma_gamma": gamma_gamma.as_dict()}
    problems = bgnbd.problems() + gamma_gamma.problems()
    params["average_predicted_clv"] = None
    if not problems:
        try:
            spend = gamma_gamma.expected_spend(summary.frequency, summary.monetary)
            value, purchases = discounted_value(
                bgnbd,
                spend,
                summary.frequency,
                summary.recency,
                summary.age,
                time_unit=unit,
                horizon_months=settings.CLV_HORIZON_MONTHS,
                annual_discount_rate=settings.CLV_ANNUAL_DISCOUNT_RATE,
            )
        except NotEnoughData as exc:
            problems.append(Problem(CLVModelFit.Failure.UNSOUND_PREDICTIONS, str(exc)))
        else:
            problems += _prediction_problems(value, purchases)
            if not problems:
                params["average_predicted_clv"] = float(np.mean(value))
    params["horizon_months"] = settings.CLV_HORIZON_MONTHS
    params["annual_discount_rate"] = settings.CLV_ANNUAL_DISCOUNT_RATE
    calibration = calibration_check(
        until=until, holdout_days=settings.CLV_HOLDOUT_DAYS, time_unit=unit
    )
    return CLVModelFit.objects.create(
        until=until,
        time_unit=unit,
        customers=len(summary),
        params=params,
        calibration=calibration,
        status=CLVModelFit.Status.FAILED if problems else CLVModelFit.Status.ACCEPTED,
        failure=problems[0].code if problems else CLVModelFit.Failure.NONE,
        failure_reason="; ".join(problem.detail for problem in problems),
    )


def latest_fit() -> CLVModelFit | None:
    """The newest fit (every card reads it: its statement is compiled once)."""
    rows = fixed_rows("latest CLV fit", _newest_fit)
    return rows[0] if rows else None


def _newest_fit() -> QuerySet[CLVModelFit]:
    return CLVModelFit.objects.order_by("-fitted_at", "-id")[:1]


# --- One customer, for the card -------------------------------------------------------------


@dataclass(frozen=True)
class CustomerValue:
    """What a customer is worth: to date, and predicted over `horizon` (months)."""

    historical_revenue: Decimal
    historical_margin: Decimal | None
    purchase_count: int  # transactions: purchase days
    average_order_value: Decimal | None
    predicted_clv: Decimal | None
    expected_purchases: float | None
    probability_alive: float | None
    horizon: int
    currency: str
    # Why there is no prediction although a model was fitted: a CLVModelFit.Failure code
    # (the latest fit failed, or its prediction for this customer is unsound); "" otherwise.
    model_problem: str = ""
    model_fitted: bool = False


# What the totals of a customer without completed purchases are (as an aggregate gives them).
_NO_PURCHASES: dict[str, Any] = {
    "revenue": None,
    "costed_revenue": None,
    "cost": None,
    "lines_without_cost": 0,
    "days": 0,
    "first": None,
    "last": None,
}


def _value_to_date(customer_id: int, now: dt.datetime) -> QuerySet[Any]:
    """One row of the customer's totals up to `now` (none without purchases): grouped by the
    customer rather than aggregated, so that it compiles once (customers.selectors)."""
    return (
        Purchase.objects.filter(
            customer_id=customer_id, status=Purchase.Status.COMPLETED, purchased_at__lte=now
        )
        .values("customer_id")
        .annotate(
            revenue=Sum("amount"),
            costed_revenue=Sum("amount", filter=Q(product__cost__isnull=False)),
            cost=Sum(line_cost(), filter=Q(product__cost__isnull=False)),
            lines_without_cost=Count("pk", filter=Q(product__cost__isnull=True)),
            days=Count(order_day(), distinct=True),
            first=Min("purchased_at"),
            last=Max("purchased_at"),
        )
        .order_by()
    )


def _revenue_before(customer_id: int, now: dt.datetime, end: dt.datetime) -> QuerySet[Any]:
    """One row of the revenue up to `now` from purchases before `end` (none without them),
    grouped by the customer so that it compiles once (customers.selectors.customer_rows)."""
    return (
        Purchase.objects.filter(
            customer_id=customer_id,
            status=Purchase.Status.COMPLETED,
            purchased_at__lte=now,
            purchased_at__lt=end,
        )
        .values("customer_id")
        .annotate(revenue=Sum("amount"))
        .order_by()
    )


def _totals_of(by_currency: list[HistoricalValue]) -> dict[str, Any] | None:
    """The totals `_value_to_date` reads, from the value to date of a customer who bought in
    one currency (or none); None for several (their orders may share days)."""
    if not by_currency:
        return _NO_PURCHASES
    if len(by_currency) > 1:
        return None
    (value,) = by_currency
    costed = value.margin_purchases == value.purchases
    return {
        "revenue": value.revenue,
        # Only the margin is used, and only when every line's cost is known.
        "costed_revenue": value.margin if costed else None,
        "cost": Decimal(0) if costed else None,
        "lines_without_cost": value.purchases - value.margin_purchases,
        "days": value.orders,
        "first": value.first_purchase_at,
        "last": value.last_purchase_at,
    }


def customer_value(
    customer_id: int,
    *,
    now: dt.datetime,
    by_currency: list[HistoricalValue] | None = None,
) -> CustomerValue:
    """One customer's historical and predicted value, in three queries (two when the caller
    gives `by_currency`, the customer's `historical_value` at `now`, bought in one currency).

    Predictions are None while no model has been fitted (`manage.py clv fit`), when the
    latest fit failed, or when its prediction for this customer is unsound (model_problem).
    """
    row = _totals_of(by_currency) if by_currency is not None else None
    if row is None:
        totals = customer_rows(
            "value to date",
            _value_to_date,
            customer_id,
            values=(now,),
            key=(settings.TIME_ZONE,),  # an order is a day there (order_day)
        )
        row = totals[0] if totals else _NO_PURCHASES
    fit = latest_fit()
    horizon = (
        int(fit.params.get("horizon_months", settings.CLV_HORIZON_MONTHS))
        if fit
        else (settings.CLV_HORIZON_MONTHS)
    )
    revenue = row["revenue"] or Decimal(0)
    days = int(row["days"] or 0)
    margin = None
    if days and not row["lines_without_cost"]:
        margin = ((row["costed_revenue"] or Decimal(0)) - (row["cost"] or Decimal(0))).quantize(
            CENT
        )
    empty = CustomerValue(
        historical_revenue=revenue,
        historical_margin=margin,
        purchase_count=days,
        average_order_value=average_order_value(revenue=revenue, orders=days),
        predicted_clv=None,
        expected_purchases=None,
        probability_alive=None,
        horizon=horizon,
        currency=settings.DEFAULT_CURRENCY,
    )
    if fit is None:
        return empty
    empty = replace(empty, model_fitted=True)
    if not days:
        return empty
    if fit.status != CLVModelFit.Status.ACCEPTED:
        return replace(empty, model_problem=fit.failure or CLVModelFit.Failure.NOT_CONVERGED)
    unit = fit.time_unit
    per_unit = DAYS_PER_UNIT[unit]
    first_day = site_day(row["first"])
    last_day = site_day(row["last"])
    first_end = site_day_start(first_day + dt.timedelta(days=1))
    first = customer_rows(
        "first day's revenue", _revenue_before, customer_id, values=(now, first_end)
    )
    first_revenue = first[0]["revenue"] if first else None
    x = float(days - 1)
    t_x = (last_day - first_day).days / per_unit
    age = (site_today(now) + dt.timedelta(days=1) - first_day).days / per_unit
    monetary = float(revenue - (first_revenue or 0)) / x if x else 0.0
    bgnbd = BGNBD(**{k: fit.params["bgnbd"][k] for k in ("r", "alpha", "a", "b")})
    gamma_gamma = GammaGamma(**{k: fit.params["gamma_gamma"][k] for k in ("p", "q", "gamma")})
    customer = (np.array([x]), np.array([t_x]), np.array([age]))
    alive = float(bgnbd.probability_alive(*customer)[0])
    units_per_month = DAYS_PER_YEAR / MONTHS_PER_YEAR / DAYS_PER_UNIT[unit]
    try:
        expected: float | None = float(
            bgnbd.expected_purchases(horizon * units_per_month, *customer)[0]
        )
    except NotEnoughData:
        expected = None
    predicted = None
    try:
        # A spend model with q <= 1 has no finite mean: then nothing is shown (see below).
        spend = gamma_gamma.expected_spend(np.array([x]), np.array([monetary]))
        value, _expected = discounted_value(
            bgnbd,
            spend,
            *customer,
            time_unit=unit,
            horizon_months=horizon,
            annual_discount_rate=float(
                fit.params.get("annual_discount_rate", settings.CLV_ANNUAL_DISCOUNT_RATE)
            ),
        )
        predicted = Decimal(str(round(float(value[0]), 2)))
    except NotEnoughData:
        predicted = None
    if (
        predicted is None
        or expected is None
        or _prediction_problems(np.array([float(predicted)]), np.array([expected]))
    ):
        return replace(empty, model_problem=CLVModelFit.Failure.UNSOUND_PREDICTIONS)
    return CustomerValue(
        historical_revenue=revenue,
        historical_margin=margin,
        purchase_count=days,
        average_order_value=empty.average_order_value,
        predicted_clv=predicted,
        expected_purchases=expected,
        probability_alive=alive,
        horizon=horizon,
        currency=settings.DEFAULT_CURRENCY,
        model_fitted=True,
    )


def line_cost() -> Any:
    """The cost of a purchase line: unit cost times quantity."""
    return F("product__cost") * F("quantity")
