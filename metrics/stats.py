"""The statistics behind every figure: intervals for shares, means and NPS, and the tests
that say whether two cohorts differ.

All intervals are two-sided 95%. Shares use the Wilson score interval (Wilson 1927), which
stays inside [0, 1] and behaves at 0 and n; means use Student's t interval on the sample
standard deviation; NPS uses the variance of a difference of two proportions of one
multinomial sample. Differences: the two-proportion z-test (pooled), Welch's t-test for means,
and a z-test on the NPS difference with the two variances summed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from scipy import stats as scipy_stats

# Two-sided 95%: the confidence level every figure on the dashboard is quoted at.
CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
Z_95 = float(scipy_stats.norm.ppf(1 - ALPHA / 2))  # 1.959963...
PERCENT = 100.0


@dataclass(frozen=True)
class Estimate:
    """A figure with the number of records behind it and its 95% interval.

    `value` is None (and `n` 0) when there is no data: "no data" is not zero.
    `sd` is the sample standard deviation for means (None otherwise), kept so that two
    cohorts can be compared; `components` holds parts such as NPS shares.
    """

    value: float | None
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    sd: float | None = None
    components: dict[str, Any] = field(default_factory=dict)

    @property
    def has_data(self) -> bool:
        return self.value is not None and self.n > 0

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "value": self.value,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }
        if self.components:
            data["components"] = self.components
        return data


NO_DATA = Estimate(value=None, n=0)


def wilson_interval(successes: int, n: int) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion, as fractions; None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must lie between 0 and n")
    p = successes / n
    z2 = Z_95 * Z_95
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def share(successes: int, n: int, *, components: dict[str, Any] | None = None) -> Estimate:
    """A share in percent with its Wilson interval; no data when n is 0."""
    if n <= 0:
        return Estimate(value=None, n=0, components=components or {})
    interval = wilson_interval(successes, n)
    assert interval is not None
    return Estimate(
        value=PERCENT * successes / n,
        n=n,
        ci_low=PERCENT * interval[0],
        ci_high=PERCENT * interval[1],
        components={"successes": successes, **(components or {})},
    )


def t_critical(n: int) -> float:
    """Student's t quantile for a two-sided 95% interval of a mean of n values."""
    return float(scipy_stats.t.ppf(1 - ALPHA / 2, n - 1))


def mean(value: float | None, sd: float | None, n: int) -> Estimate:
    """A mean with Student's t interval; one value has a figure but no interval."""
    if n <= 0 or value is None:
        return NO_DATA
    if n < 2 or sd is None:
        return Estimate(value=value, n=n)
    half = t_critical(n) * sd / math.sqrt(n)
    return Estimate(value=value, n=n, ci_low=value - half, ci_high=value + half, sd=sd)


Bounds = tuple[float | None, float | None]
UNBOUNDED: Bounds = (None, None)


def within(estimate: Estimate, bounds: Bounds) -> Estimate:
    """The estimate with its interval cut to the metric's possible range.

    Student's t interval is symmetric and knows nothing of the scale: a mean time near 0 gets
    a negative lower end, a CES mean near 7 an upper end past the scale. No value outside the
    range is possible, so the interval stops at its edge (the value itself always lies inside).
    """
    low, high = bounds
    if low is None and high is None:
        return estimate

    def cut(value: float | None) -> float | None:
        if value is None:
            return None
        if low is not None:
            value = max(low, value)
        if high is not None:
            value = min(high, value)
        return value

    return replace(
        estimate,
        value=cut(estimate.value),
        ci_low=cut(estimate.ci_low),
        ci_high=cut(estimate.ci_high),
    )


def nps(promoters: int, passives: int, detractors: int) -> Estimate:
    """NPS = %promoters - %detractors with its interval from the multinomial variance.

    var(p - d) = (p + d - (p - d)^2) / n for shares p and d of one sample of size n.
    """
    n = promoters + passives + detractors
    if n <= 0:
        return Estimate(value=None, n=0)
    p, d = promoters / n, detractors / n
    score = p - d
    variance = (p + d - score * score) / n
    half = Z_95 * math.sqrt(max(variance, 0.0))
    return Estimate(
        value=PERCENT * score,
        n=n,
        ci_low=PERCENT * max(-1.0, score - half),
        ci_high=PERCENT * min(1.0, score + half),
        sd=math.sqrt(max(variance * n, 0.0)),
        components={
            "promoters": PERCENT * p,
            "passives": PERCENT * passives / n,
            "detractors": PERCENT * d,
        },
    )


@dataclass(frozen=True)
class Difference:
    """Cohort a minus cohort b, the test statistic, its two-sided p-value and the verdict."""

    difference: float | None
    statistic: float | None
    p_value: float | None
    test: str

    @property
    def significant(self) -> bool | None:
        return None if self.p_value is None else self.p_value < ALPHA


NOT_TESTABLE = Difference(difference=None, statistic=None, p_value=None, test="")


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> Difference:
    """The pooled two-proportion z-test; the difference is in percent points."""
    if n1 <= 0 or n2 <= 0:
        return NOT_TESTABLE
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    diff = PERCENT * (p1 - p2)
    if se == 0:
        # Both cohorts all-or-nothing and equal: no evidence of a difference.
        return Difference(diff, 0.0, 1.0 if p1 == p2 else 0.0, "two-proportion z")
    z = (p1 - p2) / se
    return Difference(diff, z, float(2 * scipy_stats.norm.sf(abs(z))), "two-proportion z")


def welch_test(a: Estimate, b: Estimate) -> Difference:
    """Welch's unequal-variance t-test of two means (needs n >= 2 and sd on both sides)."""
    if a.value is None or b.value is None or a.sd is None or b.sd is None:
        return NOT_TESTABLE
    if a.n < 2 or b.n < 2:
        return NOT_TESTABLE
    va, vb = a.sd**2 / a.n, b.sd**2 / b.n
    diff = a.value - b.value
    if va + vb == 0:
        return Difference(diff, 0.0, 1.0 if diff == 0 else 0.0, "Welch t")
    t = diff / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    return Difference(diff, t, float(2 * scipy_stats.t.sf(abs(t), dof)), "Welch t")


def nps_difference_test(a: Estimate, b: Estimate) -> Difference:
    """z-test on NPS(a) - NPS(b), with var = var_a + var_b (independent samples)."""
    if a.value is None or b.value is None or a.sd is None or b.sd is None:
        return NOT_TESTABLE
    variance = (a.sd**2 / a.n + b.sd**2 / b.n) * PERCENT**2
    diff = a.value - b.value
    if variance == 0:
        return Difference(diff, 0.0, 1.0 if diff == 0 else 0.0, "NPS z")
    z = diff / math.sqrt(variance)
    return Difference(diff, z, float(2 * scipy_stats.norm.sf(abs(z))), "NPS z")
