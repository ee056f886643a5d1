"""A CLV fit is checked before anything is predicted from it (issue 14, item 3): a degenerate
fit is stored as failed with its reason, the card says why there is no prediction, and the
figures it does show are bounded and formatted in the operator's language."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from customers.models import Customer
from metrics import clv
from metrics.models import CLVModelFit
from tests.factories import CustomerFactory, PurchaseFactory
from tests.metrics.simulate import simulate_bgnbd

# What `clv fit` stored for the demo before the checks (issue 14): "nobody ever leaves".
DEGENERATE_BGNBD: dict[str, Any] = {"r": 7.136, "alpha": 238.77, "a": 1.6e-11, "b": 9.06e15}
SOUND_BGNBD: dict[str, Any] = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
SOUND_GAMMA_GAMMA: dict[str, Any] = {"p": 6.0, "q": 4.0, "gamma": 1500.0}


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def test_the_likelihood_does_not_cancel_away_at_a_huge_b() -> None:
    # A sum of four lgammas near 1e16 lost all its digits: the old code gave this customer a
    # log-likelihood of +60 (a probability density above e^60), which the optimiser chased.
    params = np.array(list(DEGENERATE_BGNBD.values()))
    value = clv.bgnbd_log_likelihood(params, np.array([1.0]), np.array([0.857]), np.array([2.43]))
    limit = clv.bgnbd_log_likelihood(
        np.array([7.136, 238.77, 1e-9, 1e9]), np.array([1.0]), np.array([0.857]), np.array([2.43])
    )
    assert value[0] < 0
    assert value[0] == pytest.approx(limit[0], abs=1e-6)


def test_a_fit_at_the_boundary_or_without_a_mean_spend_names_its_problem() -> None:
    assert clv.BGNBD(**SOUND_BGNBD, log_likelihood=-10.0).problems() == []
    degenerate = clv.BGNBD(**DEGENERATE_BGNBD, log_likelihood=-10.0).problems()
    assert [p.code for p in degenerate] == [CLVModelFit.Failure.BOUNDARY]
    assert "a=1.6e-11" in degenerate[0].detail and "b=9.06e+15" in degenerate[0].detail
    unconverged = clv.BGNBD(**SOUND_BGNBD, log_likelihood=-10.0, converged=False).problems()
    assert [p.code for p in unconverged] == [CLVModelFit.Failure.NOT_CONVERGED]
    no_mean = clv.GammaGamma(p=4.8, q=0.65, gamma=680.0, log_likelihood=-1.0).problems()
    assert [p.code for p in no_mean] == [CLVModelFit.Failure.NO_MEAN_SPEND]
    assert clv.GammaGamma(**SOUND_GAMMA_GAMMA, log_likelihood=-1.0).problems() == []


def _history_with_one_spend_for_all(customers: int = 60, seed: int = 3) -> None:
    """Purchases with no difference in spend between customers: Gamma-Gamma's q runs off to
    its bound (a population of identical spenders is the model's degenerate limit)."""
    x, t_x, _age = simulate_bgnbd(**SOUND_BGNBD, customers=customers, seed=seed, max_age=70)
    rng = np.random.default_rng(seed)
    for i in range(customers):
        customer = Customer.objects.create(full_name=f"Sim {i}", external_id=f"SIM{i}")
        days = sorted({0, *rng.uniform(0, t_x[i] * 7, int(x[i])).astype(int).tolist()})
        for offset in days:
            PurchaseFactory.create(
                customer=customer,
                product=None,
                amount=Decimal(int(rng.uniform(500, 3000))),
                purchased_at=_at(dt.date(2024, 1, 1) + dt.timedelta(days=offset)),
            )


@pytest.mark.django_db
def test_a_degenerate_fit_is_stored_as_failed_and_the_command_says_so() -> None:
    _history_with_one_spend_for_all()
    out = io.StringIO()
    with pytest.raises(CommandError, match="failed its checks"):
        call_command("clv", "fit", "--until", "2025-05-01", "--json", stdout=out)
    report = json.loads(out.getvalue())
    # The documented shape stays; the verdict is added beside it.
    assert {"time_unit", "bgnbd", "gamma_gamma", "calibration"} <= set(report)
    assert report["status"] == "failed"
    assert report["failure"] == CLVModelFit.Failure.BOUNDARY
    assert "Gamma-Gamma ran to the boundary" in report["failure_reason"]
    assert report["average_predicted_clv"] is None
    fit = CLVModelFit.objects.get()
    assert fit.status == CLVModelFit.Status.FAILED and fit.failure_reason


@pytest.mark.django_db
def test_a_failed_fit_predicts_nothing_and_the_card_says_why(
    client: Client, operator: User
) -> None:
    CLVModelFit.objects.create(
        until=dt.date.today(),
        params={
            "bgnbd": {**DEGENERATE_BGNBD, "log_likelihood": 6883.8},
            "gamma_gamma": {"p": 14.9, "q": 0.63, "gamma": 197.0, "log_likelihood": -2183.8},
            "horizon_months": 12,
        },
        status=CLVModelFit.Status.FAILED,
        failure=CLVModelFit.Failure.BOUNDARY,
        failure_reason="BG/NBD ran to the boundary of the parameter space (a=1.6e-11)",
    )
    customer = CustomerFactory.create()
    for days_ago in (300, 200, 100):
        PurchaseFactory.create(
            customer=customer, purchased_at=_at(dt.date.today() - dt.timedelta(days=days_ago))
        )
    client.force_login(operator)

    html = client.get(reverse("customers:card", kwargs={"customer_id": customer.pk})).content
    text = html.decode()

    assert "No prediction: The fit ran to the boundary of the parameter space." in text
    assert "Expected purchases" not in text and "Chance still active" not in text
    assert "No purchase model is fitted yet" not in text
    api = APIClient()
    api.force_authenticate(operator)
    section = api.get(
        f"/api/v1/customers/{customer.pk}/card/", {"sections": "predicted_value"}
    ).json()["sections"]["predicted_value"]
    assert section["predicted_clv"] is None and section["probability_alive"] is None
    assert section["model_problem"] == "boundary"


def _sound_fit() -> CLVModelFit:
    return CLVModelFit.objects.create(
        until=dt.date.today(),
        params={
            # A fast buyer with big baskets: large figures that must be grouped, not spill.
            "bgnbd": {"r": 3.0, "alpha": 1.0, "a": 0.8, "b": 20.0, "log_likelihood": -1.0},
            "gamma_gamma": {**SOUND_GAMMA_GAMMA, "log_likelihood": -1.0},
            "horizon_months": 12,
            "annual_discount_rate": 0.1,
        },
    )


def _big_spender() -> Customer:
    customer = CustomerFactory.create()
    for days_ago in range(2, 200, 3):
        PurchaseFactory.create(
            customer=customer,
            product=None,
            amount=Decimal("250000.00"),
            purchased_at=_at(dt.date.today() - dt.timedelta(days=days_ago)),
        )
    return customer


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "money", "count"),
    [
        # 1,234,567.89 RUB / 1 234 567,89 RUB (a no-break space); counts with one decimal.
        ("en", r"\d{1,3}(,\d{3})+\.\d\d\xa0RUB", r"\d{1,3}(,\d{3})*\.\d"),
        ("ru", r"\d{1,3}(\xa0\d{3})+,\d\d\xa0RUB", r"\d{1,3}(\xa0\d{3})*,\d"),
    ],
)
def test_the_prediction_is_money_and_a_count_in_the_operators_language(
    client: Client, operator: User, language: str, money: str, count: str
) -> None:
    _sound_fit()
    customer = _big_spender()
    operator.language = language
    operator.save(update_fields=["language"])
    client.force_login(operator)

    html = client.get(reverse("customers:card", kwargs={"customer_id": customer.pk})).content
    section = re.search(r'id="section-predicted_value".*?</section>', html.decode(), re.S)
    assert section is not None
    figures = [
        re.sub(r"<[^>]+>", "", dd).strip()
        for dd in re.findall(r"<dd>(.*?)</dd>", section.group(0), re.S)
    ]

    value, purchases, alive = figures
    assert re.fullmatch(money, value.replace("\u202f", "\xa0")), value
    assert re.fullmatch(count, purchases.replace("\u202f", "\xa0")), purchases
    assert re.fullmatch(r"\d{1,3}%", alive), alive
    # No figure is longer than a third-width box holds (the old card printed 16 digits).
    assert all(len(figure) <= 20 for figure in figures), figures


@pytest.mark.django_db
def test_predictions_beyond_the_bounds_are_not_shown(operator: User) -> None:
    CLVModelFit.objects.create(
        until=dt.date.today(),
        params={
            # Accepted once, absurd for this customer: a billion-rouble year is no prediction.
            "bgnbd": {"r": 50.0, "alpha": 1e-3, "a": 0.8, "b": 20.0, "log_likelihood": -1.0},
            "gamma_gamma": {"p": 6.0, "q": 4.0, "gamma": 1e12, "log_likelihood": -1.0},
            "horizon_months": 12,
        },
    )
    customer = _big_spender()

    value = clv.customer_value(customer.pk, now=_at(dt.date.today()))

    assert value.predicted_clv is None and value.expected_purchases is None
    assert value.model_problem == CLVModelFit.Failure.UNSOUND_PREDICTIONS


@pytest.mark.django_db
def test_fits_stored_before_the_checks_are_judged_by_their_parameters() -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("metrics.migrations.0009_h2_clv_fit_status")
    degenerate = CLVModelFit.objects.create(
        until=dt.date.today(),
        params={
            "bgnbd": {**DEGENERATE_BGNBD, "log_likelihood": 6883.8},
            "gamma_gamma": {**SOUND_GAMMA_GAMMA, "log_likelihood": -1.0},
        },
    )
    no_mean = CLVModelFit.objects.create(
        until=dt.date.today(),
        params={
            "bgnbd": {**SOUND_BGNBD, "log_likelihood": -1.0},
            "gamma_gamma": {"p": 14.9, "q": 0.63, "gamma": 197.0, "log_likelihood": -1.0},
        },
    )
    sound = CLVModelFit.objects.create(
        until=dt.date.today(),
        params={
            "bgnbd": {**SOUND_BGNBD, "log_likelihood": -1.0},
            "gamma_gamma": {**SOUND_GAMMA_GAMMA, "log_likelihood": -1.0},
        },
    )

    migration.judge_earlier_fits(apps, None)

    for fit in (degenerate, no_mean, sound):
        fit.refresh_from_db()
    assert (degenerate.status, degenerate.failure) == ("failed", "boundary")
    assert (no_mean.status, no_mean.failure) == ("failed", "no_mean_spend")
    assert (sound.status, sound.failure) == ("accepted", "")
