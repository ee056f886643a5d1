"""Figures the dashboard and the API print stay within what the metric can be, and read as a
person expects (issue 14, item 7): intervals inside the range, proper rounding, sentiment
adding up to 100, money with currency and grouping, retention over 100 explained, CSV headers
in the user's language."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from customers.models import Customer
from metrics import engine as calc
from metrics import stats
from metrics.selectors import shares_summing_to_100
from metrics.templatetags.metrics_format import amount, figure
from surveys.models import Survey
from tests.factories import CustomerFactory, PurchaseFactory, TicketFactory
from tests.metrics.helpers import IN_MARCH, MARCH, answer, march, survey
from tickets.models import Status

pytestmark = pytest.mark.django_db
MARCH_QUERY = {"from": "2025-03-01", "to": "2025-03-31"}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _resolved(after: dt.timedelta) -> None:
    ticket = TicketFactory.create(created_at=IN_MARCH)
    ticket.status = Status.RESOLVED
    ticket.resolved_at = IN_MARCH + after
    ticket.save()


def test_a_mean_time_interval_does_not_run_below_zero(supervisor: User) -> None:
    # Mean 19.3 h with one long ticket: Student's t gives a lower end far below 0 h.
    for minutes in (5, 10, 15):
        _resolved(dt.timedelta(minutes=minutes))
    _resolved(dt.timedelta(hours=77))

    estimate = calc.compute_metric("average_resolution_time", march())
    assert estimate.ci_low == 0.0 and estimate.ci_high is not None and estimate.ci_high > 19

    body = _client(supervisor).get(
        "/api/v1/metrics/", {**MARCH_QUERY, "metrics": "average_resolution_time"}
    )
    figure_ = body.json()["average_resolution_time"]
    assert set(figure_) >= {"value", "n", "ci_low", "ci_high"}
    assert figure_["ci_low"] == 0.0


def test_a_ces_interval_stays_on_the_survey_scale(supervisor: User) -> None:
    ces = survey(Survey.Kind.CES)
    for score in (7, 7, 7, 7, 1):
        answer(ces, score)

    estimate = calc.compute_metric("ces", march())
    assert estimate.value == pytest.approx(5.8)
    assert estimate.ci_high == 7.0 and estimate.ci_low is not None and estimate.ci_low >= 1.0

    series = _client(supervisor).get(
        "/api/v1/metrics/timeseries/", {**MARCH_QUERY, "metric": "ces", "interval": "month"}
    )
    assert series.status_code == 200
    points = series.json()["points"]
    assert points and all(point["ci_high"] <= 7.0 for point in points if point["n"])


def test_within_cuts_only_the_interval_edges() -> None:
    estimate = stats.Estimate(value=2.0, n=3, ci_low=-1.5, ci_high=5.5)
    assert stats.within(estimate, (0.0, None)) == stats.Estimate(2.0, 3, 0.0, 5.5)
    assert stats.within(estimate, (1.0, 5.0)) == stats.Estimate(2.0, 3, 1.0, 5.0)
    assert stats.within(estimate, stats.UNBOUNDED) is estimate


def test_figures_are_rounded_half_up_not_cut() -> None:
    with translation.override("en"):
        assert figure(100 * 3 / 7) == "42.9"  # was 42.8
        assert figure(100 * 2 / 3) == "66.7"
        assert figure(0.05) == "0.1"
        assert figure(12345.678) == "12,345.7"
    with translation.override("ru"):
        assert figure(100 * 3 / 7) == "42,9"
        assert figure(12345.678).replace("\xa0", " ") == "12 345,7"


def test_sentiment_shares_shown_add_up_to_100() -> None:
    # 2, 2 and 3 of 7: each rounded alone, 28.6 + 28.6 + 42.9 = 100.1.
    estimates = [stats.share(k, 7) for k in (2, 2, 3)]
    shown = shares_summing_to_100(estimates)
    assert sum(Decimal(str(v)) for v in shown.values()) == 100
    # Largest remainder: 285.7, 285.7, 428.6 tenths; the two largest remainders round up.
    assert shown == {
        "sentiment_positive": 28.6,
        "sentiment_neutral": 28.6,
        "sentiment_negative": 42.8,
    }
    # Three equal thirds: 33.4 + 33.3 + 33.3.
    thirds = shares_summing_to_100([stats.share(1, 3)] * 3)
    assert sorted(thirds.values()) == [33.3, 33.3, 33.4]


def test_the_dashboard_tiles_show_sentiment_adding_up_to_100(supervisor: User) -> None:
    csat = survey(Survey.Kind.CSAT)
    for sentiment in ["positive"] * 2 + ["neutral"] * 2 + ["negative"] * 3:
        given = answer(csat, 5)
        given.comment, given.sentiment = "text", sentiment
        given.save()

    response = _client(supervisor).get(reverse("metrics:dashboard"), MARCH_QUERY)
    # The tiles print 28.6, 28.6 and 42.8 (cut, they read 28.5, 28.5, 42.8: 99.8).
    html = response.content.decode()
    assert html.count("28.6") >= 2 and "28.5" not in html

    kpis = {kpi.definition.name: kpi for kpi in response.context["kpis"]}
    shown = [
        kpis[name].shown_value
        for name in ("sentiment_positive", "sentiment_neutral", "sentiment_negative")
    ]
    assert sum(Decimal(str(value)) for value in shown) == 100


def test_money_is_grouped_with_its_currency() -> None:
    with translation.override("en"):
        assert amount(1234567.891, "RUB") == "1,234,567.89\xa0RUB"
    with translation.override("ru"):
        assert amount(1234567.891, "RUB").replace("\xa0", " ") == "1 234 567,89 RUB"


def _buy(customer: Customer, at: dt.datetime, amount_: str = "123456.00") -> None:
    PurchaseFactory.create(
        customer=customer, product=None, amount=Decimal(amount_), purchased_at=at
    )


def test_clv_tiles_show_currency_and_retention_over_100_is_explained(supervisor: User) -> None:
    year = dt.timedelta(days=365)
    start = MARCH.start_at
    stays = CustomerFactory.create()
    _buy(stays, start - dt.timedelta(days=100))
    _buy(stays, IN_MARCH)
    # Lapsed before the period, back in it: counted at its end, not at its start.
    for _ in range(2):
        back = CustomerFactory.create()
        _buy(back, start - 2 * year)
        _buy(back, IN_MARCH)
    assert calc.compute_metric("retention_rate", march()).value == pytest.approx(300.0)
    supervisor.language = "en"
    supervisor.save(update_fields=["language"])

    html = _client(supervisor).get(reverse("metrics:dashboard"), MARCH_QUERY).content.decode()

    assert 'data-note="retention-over-100"' in html
    assert "bought again in it count at its end" in html
    # Historical CLV per customer: 3 customers, 6 purchases of 123,456.00 = 246,912.00 each.
    assert "246,912.00\xa0RUB" in html


def test_csv_headers_are_in_the_users_language(supervisor: User) -> None:
    csat = survey(Survey.Kind.CSAT)
    answer(csat, 5, personalized=True)
    answer(csat, 2, personalized=False)
    supervisor.language = "ru"
    supervisor.save(update_fields=["language"])
    client = _client(supervisor)

    headers = {}
    for table in ("kpis", "cohorts", "operators", "channels"):
        response = client.get(reverse("metrics:export", args=[table]), MARCH_QUERY)
        headers[table] = next(csv.reader(io.StringIO(response.content.decode())))

    assert headers["kpis"][:3] == ["метрика", "единица", "значение"]
    assert "не персонализировано значение" in headers["cohorts"]
    for table in ("operators", "channels"):
        assert headers[table][0] in {"оператор", "канал"}
        # Every metric column is named in Russian, no snake_case code or English word left.
        for header in headers[table][1:]:
            assert "_" not in header and "value" not in header, header
        assert any(header.endswith(": значение") for header in headers[table])
