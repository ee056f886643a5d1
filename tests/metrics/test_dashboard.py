"""The supervisor dashboard at /metrics/ and its CSV exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from customers.models import Channel
from surveys.models import Survey
from tests.factories import UserFactory
from tests.metrics.helpers import answer, survey

pytestmark = pytest.mark.django_db
MARCH_QUERY = {"from": "2025-03-01", "to": "2025-03-31"}


@pytest.fixture
def facts() -> None:
    csat, nps = survey(Survey.Kind.CSAT), survey(Survey.Kind.NPS)
    olga = UserFactory.create(username="olga-k", first_name="Olga", last_name="K")
    for score in (5, 5, 4, 2):
        answer(csat, score, operator=olga, personalized=True, channel=Channel.PHONE)
    for score in (1, 2, 5):
        answer(csat, score, personalized=False, channel=Channel.EMAIL)
    answer(nps, 10, personalized=True)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_supervisor_sees_tiles_cohorts_operators_and_channels(
    supervisor: User, facts: None, django_assert_max_num_queries: object
) -> None:
    with django_assert_max_num_queries(100):  # type: ignore[operator]
        response = _client(supervisor).get(reverse("metrics:dashboard"), MARCH_QUERY)
    assert response.status_code == 200
    content = response.content.decode()
    assert "CSAT, satisfied share" in content
    assert "Personalised vs not" in content
    assert "Olga K" in content
    assert 'data-metric="nps"' in content
    assert "vendor/chartjs/chart.umd.min.js" in content
    cohorts = {row.definition.name: row for row in response.context["cohorts"]}
    assert cohorts["csat"].personalised.value == 75.0
    assert cohorts["csat"].not_personalised.value == pytest.approx(100 / 3)
    assert cohorts["csat"].difference.test == "two-proportion z"


def test_htmx_filter_change_returns_the_results_fragment(supervisor: User, facts: None) -> None:
    response = _client(supervisor).get(
        reverse("metrics:dashboard"), {**MARCH_QUERY, "channel": "email"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert b"<html" not in response.content
    kpis = {kpi.definition.name: kpi for kpi in response.context["kpis"]}
    assert kpis["csat"].current.n == 3


def test_bad_dates_show_form_errors(supervisor: User) -> None:
    response = _client(supervisor).get(
        reverse("metrics:dashboard"), {"from": "2025-03-10", "to": "2025-03-01"}
    )
    assert response.status_code == 400
    assert b"The end date cannot be before the start date." in response.content


def test_operator_gets_403_and_anonymous_is_sent_to_login(operator: User) -> None:
    assert _client(operator).get(reverse("metrics:dashboard")).status_code == 403
    response = Client().get(reverse("metrics:dashboard"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    export = reverse("metrics:export", args=["kpis"])
    assert _client(operator).get(export).status_code == 403


def test_navigation_links_the_dashboard_for_supervisors_only(
    supervisor: User, operator: User
) -> None:
    url = reverse("metrics:dashboard")
    assert url.encode() in _client(supervisor).get("/").content
    assert f'href="{url}"'.encode() not in _client(operator).get("/").content


@pytest.mark.parametrize("table", ["kpis", "cohorts", "operators", "channels"])
def test_every_table_exports_as_csv(supervisor: User, facts: None, table: str) -> None:
    response = _client(supervisor).get(reverse("metrics:export", args=[table]), MARCH_QUERY)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) >= 2
    if table == "kpis":
        csat = next(row for row in rows if row[0] == "csat")
        assert csat[2] == "57.142857142857146" and csat[3] == "7"


def test_export_of_an_unknown_table_is_404_and_bad_dates_400(supervisor: User) -> None:
    client = _client(supervisor)
    assert client.get(reverse("metrics:export", args=["salaries"])).status_code == 404
    response = client.get(reverse("metrics:export", args=["kpis"]), {"from": "nope"})
    assert response.status_code == 400
