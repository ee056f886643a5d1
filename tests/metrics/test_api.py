"""GET /api/v1/metrics/ and /api/v1/metrics/timeseries/: Supervisors only, the fixed shape."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from metrics.registry import METRICS
from surveys.models import Survey
from tests.metrics.helpers import answer, survey

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics/"
SERIES = "/api/v1/metrics/timeseries/"


def _client(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_supervisor_gets_every_metric_in_the_fixed_shape(
    supervisor: User, django_assert_max_num_queries: object
) -> None:
    nps = survey(Survey.Kind.NPS)
    for score in (10, 9, 3):
        answer(nps, score)
    with django_assert_max_num_queries(40):  # type: ignore[operator]
        response = _client(supervisor).get(URL, {"from": "2025-03-01", "to": "2025-03-31"})
    assert response.status_code == 200
    body = response.json()
    assert set(METRICS) <= set(body)
    for name in ("csat", "nps", "ces", "repeat_purchase_rate", "churn_rate"):
        assert {"value", "n", "ci_low", "ci_high"} <= set(body[name]), name
    assert body["nps"]["n"] == 3
    assert body["nps"]["value"] == pytest.approx(100 / 3)
    assert body["csat"] == {
        "value": None,
        "n": 0,
        "ci_low": None,
        "ci_high": None,
        "unit": "percent",
    }


def test_dates_default_to_the_last_30_days(supervisor: User) -> None:
    response = _client(supervisor).get(URL)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "01.03.2025"}, "from"),
        ({"from": "2025-03-10", "to": "2025-03-01"}, "to"),
        ({"from": "2015-01-01", "to": "2025-01-01"}, "to"),
        ({"channel": "pigeon"}, "channel"),
        ({"operator": "999999"}, "operator"),
        ({"personalized": "maybe"}, "personalized"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    supervisor: User, query: dict[str, str], field: str
) -> None:
    response = _client(supervisor).get(URL, query)
    assert response.status_code == 400
    assert field in response.json()


def test_anonymous_is_401_and_operator_is_403(operator: User) -> None:
    assert _client(None).get(URL).status_code == 401
    assert _client(operator).get(URL).status_code == 403
    assert _client(operator).get(SERIES, {"metric": "csat"}).status_code == 403


def test_token_authentication_works_for_bi_tools(supervisor: User) -> None:
    from accounts.tokens import issue_token

    _token, key = issue_token(user=supervisor)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(URL).status_code == 200


def test_timeseries_per_week(supervisor: User, django_assert_max_num_queries: object) -> None:
    csat = survey(Survey.Kind.CSAT)
    answer(csat, 5)  # 2025-03-10, a Monday
    with django_assert_max_num_queries(10):  # type: ignore[operator]
        response = _client(supervisor).get(
            SERIES, {"metric": "csat", "interval": "week", "from": "2025-03-01", "to": "2025-03-31"}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["metric"] == "csat" and body["unit"] == "percent"
    starts = [point["start"] for point in body["points"]]
    assert starts == [
        "2025-02-24",
        "2025-03-03",
        "2025-03-10",
        "2025-03-17",
        "2025-03-24",
        "2025-03-31",
    ]
    week = body["points"][2]
    assert (week["value"], week["n"], week["source"]) == (100.0, 1, "facts")
    assert body["points"][0]["value"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [({"metric": "happiness"}, "metric"), ({"metric": "csat", "interval": "year"}, "interval")],
)
def test_timeseries_bad_input(supervisor: User, query: dict[str, str], field: str) -> None:
    response = _client(supervisor).get(SERIES, query)
    assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        (URL, "metrics=nope", "metrics"),
        (URL, "metrics=csat,nope", "metrics"),
        (URL, "metrics=", "metrics"),
        (URL, "from=", "from"),
        (URL, "to=", "to"),
        (URL, "channel=", "channel"),
        (URL, "form=2025-03-01", "form"),
        (SERIES, "metric=csat&from=", "from"),
        (SERIES, "metric=csat&interval=", "interval"),
        (SERIES, "metric=", "metric"),
        (SERIES, "metric=csat&metrics=nps", "metrics"),
        (SERIES, "metric=csat&segment=", "segment"),
    ],
)
def test_an_unknown_or_empty_parameter_is_a_400_in_the_api_error_shape(
    supervisor: User, url: str, query: str, field: str
) -> None:
    response = _client(supervisor).get(f"{url}?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid_parameter"
    assert isinstance(body[field], list) and body[field]


def test_metrics_can_be_chosen_by_name(supervisor: User) -> None:
    nps = survey(Survey.Kind.NPS)
    answer(nps, 10)

    response = _client(supervisor).get(
        URL, {"metrics": "nps,csat", "from": "2025-03-01", "to": "2025-03-31"}
    )

    assert response.status_code == 200
    assert set(response.json()) == {"nps", "csat"}
    assert response.json()["nps"]["n"] == 1


def test_schema_describes_the_metrics_endpoints(admin_user: User) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/metrics/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"from", "to", "channel", "operator", "personalized"} <= names
    assert "/api/v1/metrics/timeseries/" in schema["paths"]
    assert dt.date.today()  # the schema builds without a request
