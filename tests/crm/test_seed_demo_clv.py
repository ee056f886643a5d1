"""The demo company's purchase history supports a sound CLV fit (issue 14, item 3): after
`seed_demo` and `clv fit` the fit is accepted and the demo cards show believable figures."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.demo.reset import demo_customers
from metrics import clv
from metrics.models import CLVModelFit

pytestmark = pytest.mark.django_db

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Believable for a small electronics shop over the next 12 months: nobody is predicted more
# than a few dozen purchases or tens of millions of roubles, and nobody a negative value.
MAX_BELIEVABLE_PURCHASES = 50
MAX_BELIEVABLE_VALUE = 20_000_000


def test_the_demo_fits_a_sound_model_and_its_cards_show_believable_predictions(
    settings: object,
) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER  # type: ignore[attr-defined]
    call_command("seed_demo", seed=42, password="demo-test-password", stdout=io.StringIO())
    out = io.StringIO()
    call_command("clv", "fit", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert report["status"] == "accepted", report["failure_reason"]
    bgnbd, gamma_gamma = report["bgnbd"], report["gamma_gamma"]
    # Interior parameters: some customers leave (a, b finite), mean spend exists (q > 1).
    assert 0.01 < bgnbd["a"] < 100 and 0.01 < bgnbd["b"] < 1000
    assert gamma_gamma["q"] > 1
    assert report["calibration"]["ratio"] == pytest.approx(1.0, abs=0.35)
    assert CLVModelFit.objects.get().status == CLVModelFit.Status.ACCEPTED

    now = timezone.now()
    values = [clv.customer_value(c.pk, now=now) for c in demo_customers()]
    buyers = [v for v in values if v.purchase_count]
    assert len(buyers) > 200
    assert all(v.model_problem == "" for v in values)
    for value in buyers:
        assert value.predicted_clv is not None and value.expected_purchases is not None
        assert value.probability_alive is not None
        assert 0 <= value.predicted_clv < MAX_BELIEVABLE_VALUE
        assert 0 <= value.expected_purchases < MAX_BELIEVABLE_PURCHASES
        assert 0 <= value.probability_alive <= 1
    # Not everyone is certainly active (the old degenerate fit said 100% for all).
    alive = sorted(v.probability_alive or 0 for v in buyers)
    assert alive[len(alive) // 4] < 0.9
    assert alive[-1] > 0.5
