"""Predictive CLV: the fits recover known parameters, the summaries follow the published
conventions, the command prints the fixed JSON shape, and the card's value answers quickly."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from core.dates import site_day_start
from customers.models import Customer
from metrics import clv
from metrics.engine import compute_metric
from metrics.models import CLVModelFit
from tests.factories import CustomerFactory, ProductFactory, PurchaseFactory
from tests.metrics.helpers import MARCH, march
from tests.metrics.simulate import simulate_bgnbd, simulate_gamma_gamma

TRUE_BGNBD: dict[str, Any] = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GAMMA_GAMMA: dict[str, Any] = {"p": 6.0, "q": 4.0, "gamma": 1500.0}
# A few thousand customers pin the parameters to about 10%; 25% leaves room for the seed.
TOLERANCE = 0.25


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, age = simulate_bgnbd(**TRUE_BGNBD, customers=4000, seed=11, max_age=78)
    spend = simulate_gamma_gamma(x, **TRUE_GAMMA_GAMMA, seed=11)
    return x, t_x, age, spend


def test_bgnbd_fit_recovers_simulated_parameters(simulated: tuple[np.ndarray, ...]) -> None:
    x, t_x, age, _spend = simulated
    model = clv.fit_bgnbd(x, t_x, age)
    for name, true in TRUE_BGNBD.items():
        assert getattr(model, name) == pytest.approx(true, rel=TOLERANCE), name
    assert model.log_likelihood < 0


def test_gamma_gamma_fit_recovers_simulated_parameters(simulated: tuple[np.ndarray, ...]) -> None:
    x, _t_x, _age, spend = simulated
    model = clv.fit_gamma_gamma(x, spend)
    for name, true in TRUE_GAMMA_GAMMA.items():
        assert getattr(model, name) == pytest.approx(true, rel=TOLERANCE), name


def test_expected_purchases_match_the_simulated_process() -> None:
    # A customer just acquired (x = t_x = T = 0) is expected to make E[X(t)] repeat purchases
    # in the next t: the simulation's mean count over the same ages must agree.
    model = clv.BGNBD(**TRUE_BGNBD)
    x, _t, age = simulate_bgnbd(**TRUE_BGNBD, customers=4000, seed=5, max_age=52.0)
    zero = np.zeros_like(age)
    expected = model.expected_purchases(age, zero, zero, zero)
    assert float(np.mean(expected)) == pytest.approx(float(np.mean(x)), rel=0.1)


def test_probability_alive_falls_with_silence() -> None:
    model = clv.BGNBD(**TRUE_BGNBD)
    zero = np.zeros(1)
    assert model.probability_alive(zero, zero, np.array([10.0]))[0] == 1.0
    quiet = model.probability_alive(np.array([5.0]), np.array([2.0]), np.array([60.0]))[0]
    busy = model.probability_alive(np.array([5.0]), np.array([58.0]), np.array([60.0]))[0]
    assert 0 < quiet < busy <= 1


def test_no_repeat_purchases_cannot_be_fitted() -> None:
    with pytest.raises(clv.NotEnoughData):
        clv.fit_bgnbd([0, 0], [0, 0], [5, 9])
    with pytest.raises(clv.NotEnoughData):
        clv.fit_gamma_gamma([0, 0], [0, 0])


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return site_day_start(day) + dt.timedelta(hours=hour)


@pytest.mark.django_db
def test_summary_counts_one_customer_day_as_one_transaction() -> None:
    customer = CustomerFactory.create()
    first = dt.date(2025, 1, 6)
    for day, hour, amount in [(first, 10, 100), (first, 18, 50), (first + dt.timedelta(14), 9, 40)]:
        PurchaseFactory.create(
            customer=customer, product=None, amount=Decimal(amount), purchased_at=_at(day, hour)
        )
    PurchaseFactory.create(  # after `until`: not seen
        customer=customer, product=None, amount=Decimal(999), purchased_at=_at(dt.date(2025, 3, 1))
    )
    summary = clv.summarise(until=dt.date(2025, 2, 2), time_unit="week")
    assert list(summary.customer_ids) == [customer.pk]
    assert summary.frequency[0] == 1
    assert summary.recency[0] == pytest.approx(2.0)
    assert summary.age[0] == pytest.approx(28 / 7)  # Jan 6 to the end of Feb 2
    assert summary.monetary[0] == pytest.approx(40.0)  # repeat transactions only


def _history(customers: int = 60, seed: int = 3) -> None:
    """Purchases simulated from BG/NBD, written to the database from 2024-01-01."""
    x, t_x, _age = simulate_bgnbd(**TRUE_BGNBD, customers=customers, seed=seed, max_age=70)
    rng = np.random.default_rng(seed)
    start = dt.date(2024, 1, 1)
    p, q, gamma = TRUE_GAMMA_GAMMA.values()
    for i in range(customers):
        customer = Customer.objects.create(full_name=f"Sim {i}", external_id=f"SIM{i}")
        days = sorted({0, *rng.uniform(0, t_x[i] * 7, int(x[i])).astype(int).tolist()})
        # Spend as Gamma-Gamma has it: each customer's own rate, then amounts around it (a
        # spend identical across customers would put q at its bound, a failed fit).
        rate = rng.gamma(q, 1 / gamma)
        for offset in days:
            PurchaseFactory.create(
                customer=customer,
                product=None,
                amount=Decimal(int(rng.gamma(p, 1 / rate)) + 1),
                purchased_at=_at(start + dt.timedelta(days=offset)),
            )


@pytest.mark.django_db
def test_clv_fit_json_has_the_fixed_shape_and_a_calibration_check() -> None:
    _history()
    out = io.StringIO()
    call_command("clv", "fit", "--until", "2025-05-01", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["time_unit"] == "week"
    assert set(report["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(report["gamma_gamma"]) >= {"p", "q", "gamma"}
    calibration = report["calibration"]
    assert calibration["calibration_end"] == "2025-01-30"
    assert calibration["customers"] > 0
    assert calibration["predicted_purchases"] >= 0
    assert calibration["actual_purchases"] >= 0
    assert sum(row["customers"] for row in calibration["by_frequency"]) == calibration["customers"]
    fit = CLVModelFit.objects.get()
    assert fit.until == dt.date(2025, 5, 1) and fit.params["bgnbd"] == report["bgnbd"]


@pytest.mark.django_db
def test_clv_fit_without_repeat_purchases_is_a_clear_error() -> None:
    PurchaseFactory.create()
    with pytest.raises(CommandError, match="Cannot fit"):
        call_command("clv", "fit", "--json", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command("clv", "fit", "--until", "yesterday", stdout=io.StringIO())


@pytest.mark.django_db
def test_customer_value_without_a_fit_has_history_but_no_prediction(
    django_assert_max_num_queries: object,
) -> None:
    customer = CustomerFactory.create()
    costed = ProductFactory.create(price=Decimal("100"), cost=Decimal("70"))
    PurchaseFactory.create(
        customer=customer,
        product=costed,
        amount=Decimal("100"),
        quantity=1,
        purchased_at=_at(dt.date(2025, 1, 10)),
    )
    PurchaseFactory.create(
        customer=customer,
        product=costed,
        amount=Decimal("200"),
        quantity=2,
        purchased_at=_at(dt.date(2025, 2, 10)),
    )
    now = _at(dt.date(2025, 3, 1))
    with django_assert_max_num_queries(3):  # type: ignore[operator]
        value = clv.customer_value(customer.pk, now=now)
    assert value.historical_revenue == Decimal("300")
    assert value.historical_margin == Decimal("90")
    assert (value.purchase_count, value.average_order_value) == (2, Decimal("150.00"))
    assert value.predicted_clv is None and value.probability_alive is None


def _true_fit() -> CLVModelFit:
    """An accepted fit with the parameters the simulated histories were drawn from."""
    return CLVModelFit.objects.create(
        until=dt.date(2025, 1, 1),
        params={
            "bgnbd": {**TRUE_BGNBD, "log_likelihood": -1.0},
            "gamma_gamma": {**TRUE_GAMMA_GAMMA, "log_likelihood": -1.0},
            "horizon_months": 12,
            "annual_discount_rate": 0.1,
        },
    )


@pytest.mark.django_db
def test_customer_value_with_a_fit_predicts(django_assert_max_num_queries: object) -> None:
    _true_fit()
    customer = CustomerFactory.create()
    for day in (dt.date(2025, 1, 10), dt.date(2025, 2, 1), dt.date(2025, 2, 20)):
        PurchaseFactory.create(
            customer=customer, product=None, amount=Decimal("1000"), purchased_at=_at(day)
        )
    with django_assert_max_num_queries(3):  # type: ignore[operator]
        value = clv.customer_value(customer.pk, now=_at(dt.date(2025, 3, 1)))
    assert value.probability_alive is not None and 0 < value.probability_alive <= 1
    assert value.expected_purchases is not None and value.expected_purchases > 0
    assert value.predicted_clv is not None and value.predicted_clv > 0
    assert value.horizon == 12 and value.currency == "RUB"


@pytest.mark.django_db
def test_simple_clv_formula() -> None:
    customer = CustomerFactory.create()
    for day in (dt.date(2025, 3, 2), dt.date(2025, 3, 20)):
        PurchaseFactory.create(
            customer=customer, product=None, amount=Decimal("500"), purchased_at=_at(day)
        )
    result = compute_metric("clv_simple", march())
    # AOV 500, 2 orders per customer in 31 days, lifespan 3 years, margin 0.3.
    expected = 500 * (2 / (MARCH.days / 365.25)) * 3 * 0.3
    assert result.value == pytest.approx(expected)
    assert result.n == 1
    assert compute_metric("clv_simple", march(segment="enterprise")).value is None
    assert timezone.is_aware(MARCH.start_at)


@pytest.mark.django_db
def test_a_spend_model_without_a_mean_predicts_nothing_even_if_stored_as_accepted() -> None:
    CLVModelFit.objects.create(
        until=dt.date(2025, 1, 1),
        params={
            "bgnbd": {**TRUE_BGNBD, "log_likelihood": -1.0},
            "gamma_gamma": {"p": 4.8, "q": 0.65, "gamma": 680.0, "log_likelihood": -1.0},
        },
    )
    customer = CustomerFactory.create()
    for day in (dt.date(2025, 1, 10), dt.date(2025, 2, 1)):
        PurchaseFactory.create(
            customer=customer, product=None, amount=Decimal("1000"), purchased_at=_at(day)
        )
    value = clv.customer_value(customer.pk, now=_at(dt.date(2025, 3, 1)))
    # q <= 1: the mean spend does not exist, so no figure from this fit is shown.
    assert value.predicted_clv is None
    assert value.probability_alive is None and value.expected_purchases is None
    assert value.model_problem == CLVModelFit.Failure.UNSOUND_PREDICTIONS


@pytest.mark.django_db
@pytest.mark.parametrize("fitted", [False, True])
def test_customer_value_from_the_cards_value_to_date_is_the_same(
    fitted: bool, django_assert_max_num_queries: object
) -> None:
    """The card gives `customer_value` the value to date by currency it read for the
    satisfaction section: the same figures as reading the totals itself, one query fewer
    for a customer of one currency; several currencies read them (orders may share days)."""
    from customers.selectors import historical_value

    if fitted:
        _true_fit()
    costed = ProductFactory.create(price=Decimal("100"), cost=Decimal("70"))
    uncosted = ProductFactory.create(price=Decimal("50"), cost=None)
    nobody = CustomerFactory.create()
    all_costed, some_costed, two_currencies, later_only = CustomerFactory.create_batch(4)
    for day, amount in ((dt.date(2025, 1, 10), "100"), (dt.date(2025, 2, 1), "300.55")):
        PurchaseFactory.create(
            customer=all_costed, product=costed, amount=Decimal(amount), purchased_at=_at(day)
        )
        PurchaseFactory.create(
            customer=some_costed, product=costed, amount=Decimal(amount), purchased_at=_at(day)
        )
        PurchaseFactory.create(
            customer=two_currencies, product=costed, amount=Decimal(amount), purchased_at=_at(day)
        )
    PurchaseFactory.create(
        customer=some_costed,
        product=uncosted,
        amount=Decimal("50"),
        purchased_at=_at(dt.date(2025, 2, 1)),
    )
    PurchaseFactory.create(
        customer=two_currencies,
        product=costed,
        amount=Decimal("7"),
        currency="USD",
        purchased_at=_at(dt.date(2025, 2, 1)),
    )
    PurchaseFactory.create(
        customer=later_only,
        product=costed,
        amount=Decimal("9"),
        purchased_at=_at(dt.date(2025, 4, 1)),
    )
    now = _at(dt.date(2025, 3, 1))
    for customer in (nobody, all_costed, some_costed, two_currencies, later_only):
        by_currency = historical_value(customer.pk, now=now)
        alone = clv.customer_value(customer.pk, now=now)
        several = len(by_currency) > 1
        with django_assert_max_num_queries(2 + several + fitted):  # type: ignore[operator]
            shared = clv.customer_value(customer.pk, now=now, by_currency=by_currency)
        assert shared == alone, customer
    # 400.55 less two lines of cost 70.
    assert clv.customer_value(all_costed.pk, now=now).historical_margin == Decimal("260.55")


@pytest.mark.django_db
def test_the_latest_fit_is_read_fresh_although_its_statement_is_compiled_once() -> None:
    """Every card reads the newest fit through a statement compiled once per process: a fit
    made after the first read is the one the next read gives; none gives None."""
    assert clv.latest_fit() is None
    older = _true_fit()
    assert clv.latest_fit() == older
    newer = _true_fit()
    newer.fitted_at = older.fitted_at + dt.timedelta(hours=1)
    newer.save(update_fields=["fitted_at"])
    found = clv.latest_fit()
    assert found == newer and found is not None and found.params == newer.params
