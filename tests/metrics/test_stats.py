"""The intervals and tests against values computed by hand (and by their definitions)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics import stats


def test_wilson_interval_matches_the_hand_computed_value() -> None:
    # 8 of 10, z = 1.959964: centre (0.8 + 0.19207) / 1.38415 = 0.71678;
    # half 1.959964 * sqrt(0.016 + 0.0096036) / 1.38415 = 0.22658.
    low, high = stats.wilson_interval(8, 10) or (0, 0)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_at_zero_and_all_stays_inside_the_unit_range() -> None:
    assert stats.wilson_interval(0, 5) == (0.0, pytest.approx(0.4345, abs=1e-4))
    low, high = stats.wilson_interval(5, 5) or (0, 0)
    assert (low, high) == (pytest.approx(0.5655, abs=1e-4), 1.0)


def test_no_data_is_none_not_zero() -> None:
    assert stats.share(0, 0) == stats.Estimate(value=None, n=0)
    assert stats.nps(0, 0, 0).value is None
    assert stats.mean(None, None, 0) is stats.NO_DATA


def test_mean_of_one_value_has_no_interval() -> None:
    result = stats.mean(4.0, None, 1)
    assert (result.value, result.n, result.ci_low, result.ci_high) == (4.0, 1, None, None)


def test_mean_uses_student_t() -> None:
    # 4 values, sd 2: t(0.975, 3) = 3.182446; half = 3.182446 * 2 / 2.
    result = stats.mean(10.0, 2.0, 4)
    assert result.ci_low == pytest.approx(10 - 3.182446, abs=1e-5)
    assert result.ci_high == pytest.approx(10 + 3.182446, abs=1e-5)


def test_nps_interval_from_the_multinomial_variance() -> None:
    # 50 promoters, 30 passives, 20 detractors: p - d = 0.3; var = (0.7 - 0.09) / 100.
    result = stats.nps(50, 30, 20)
    half = 1.959964 * math.sqrt(0.61 / 100) * 100
    assert result.value == pytest.approx(30.0)
    assert result.ci_low == pytest.approx(30 - half, abs=1e-3)
    assert result.ci_high == pytest.approx(30 + half, abs=1e-3)
    assert result.components == {
        "promoters": pytest.approx(50.0),
        "passives": pytest.approx(30.0),
        "detractors": pytest.approx(20.0),
    }


def test_all_promoters_is_plus_hundred_with_a_degenerate_interval() -> None:
    result = stats.nps(7, 0, 0)
    assert (result.value, result.ci_low, result.ci_high) == (100.0, 100.0, 100.0)


def test_two_proportion_test_flags_a_real_difference() -> None:
    # 60/100 vs 40/100: pooled 0.5, se = sqrt(0.25 * 0.02) = 0.070711, z = 2.8284.
    result = stats.two_proportion_test(60, 100, 40, 100)
    assert result.statistic == pytest.approx(2.8284, abs=1e-4)
    assert result.p_value == pytest.approx(0.004678, abs=1e-5)
    assert result.significant is True
    assert stats.two_proportion_test(52, 100, 48, 100).significant is False


def test_welch_test_against_the_textbook_formula() -> None:
    a = stats.mean(5.0, 1.0, 10)
    b = stats.mean(4.0, 2.0, 20)
    result = stats.welch_test(a, b)
    # se^2 = 0.1 + 0.2; t = 1 / sqrt(0.3) = 1.8257; dof = 0.09 / (0.01/9 + 0.04/19) = 27.99.
    assert result.statistic == pytest.approx(1.8257, abs=1e-4)
    assert result.p_value == pytest.approx(0.0786, abs=1e-3)
    assert result.significant is False


def test_nps_difference_sums_the_variances() -> None:
    a, b = stats.nps(60, 20, 20), stats.nps(30, 30, 40)
    result = stats.nps_difference_test(a, b)
    var = (0.8 - 0.16) / 100 + (0.7 - 0.01) / 100
    assert result.difference == pytest.approx(50.0)
    assert result.statistic == pytest.approx(0.5 / math.sqrt(var), abs=1e-6)
    assert result.significant is True


@given(
    st.integers(min_value=1, max_value=10_000).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    )
)
def test_wilson_interval_contains_the_share(pair: tuple[int, int]) -> None:
    k, n = pair
    low, high = stats.wilson_interval(k, n) or (0, 0)
    assert 0.0 <= low <= k / n + 1e-12
    assert k / n - 1e-12 <= high <= 1.0


@given(
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=500),
)
def test_nps_stays_within_its_range(promoters: int, passives: int, detractors: int) -> None:
    result = stats.nps(promoters, passives, detractors)
    if promoters + passives + detractors == 0:
        assert result.value is None
        return
    assert result.ci_low is not None and result.ci_high is not None and result.value is not None
    assert -100.0 <= result.ci_low <= result.value <= result.ci_high <= 100.0
