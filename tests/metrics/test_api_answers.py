"""GET /api/v1/metrics/: only the metrics asked for are computed, and answers are kept per
filter set until the data they read changes (metrics.answer_cache)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import User
from metrics import answer_cache
from surveys.models import Survey
from tests.factories import SurveyInvitationFactory, SurveyResponseFactory, TicketFactory
from tests.metrics.helpers import survey

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics/"


@pytest.fixture(autouse=True)
def _answers_cached(settings: Settings) -> None:
    settings.METRICS_ANSWER_CACHE_SECONDS = 300  # tests/conftest.py turns it off elsewhere


@pytest.fixture
def client(supervisor: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(supervisor)
    return client


def _answered_now(kind: str, score: int) -> None:
    """A response answered now (today: no rollup holds it, only cached answers can)."""
    invitation = SurveyInvitationFactory.create(survey=survey(kind))
    SurveyResponseFactory.create(invitation=invitation, score=score)


def _queries(request: Callable[[], Any]) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as context:
        response = request()
    assert response.status_code == 200, response.content
    return response.json(), len(context.captured_queries)


def test_named_metrics_are_the_only_ones_computed(client: APIClient, settings: Settings) -> None:
    settings.METRICS_ANSWER_CACHE_SECONDS = 0
    _answered_now(Survey.Kind.NPS, 10)
    some, some_queries = _queries(lambda: client.get(URL, {"metrics": "csat,nps"}))
    every, every_queries = _queries(lambda: client.get(URL))
    assert list(some) == ["csat", "nps"]
    assert some["nps"] == every["nps"]
    assert some_queries < every_queries
    # The survey responses, read once for both; no other fact table, no purchase history.
    with CaptureQueriesContext(connection) as context:
        client.get(URL, {"metrics": "csat,nps"})
    sqls = [query["sql"] for query in context.captured_queries]
    assert sum('FROM "surveys_surveyresponse"' in sql for sql in sqls) == 1
    read = " ".join(sqls)
    for table in ("tickets_ticket", "customers_interaction", "customers_purchase", "purchaseday"):
        assert table not in read


def test_a_second_identical_request_reads_nothing_from_the_database(client: APIClient) -> None:
    _answered_now(Survey.Kind.NPS, 10)
    first, first_queries = _queries(lambda: client.get(URL, {"metrics": "nps,csat"}))
    second, second_queries = _queries(lambda: client.get(URL, {"metrics": "csat,nps"}))
    assert first_queries > 0
    assert second_queries == 0
    assert second == {"csat": first["csat"], "nps": first["nps"]}
    assert list(second) == ["csat", "nps"]  # in the order asked, whatever the cached one


def test_another_filter_set_is_another_answer(client: APIClient) -> None:
    _answered_now(Survey.Kind.NPS, 10)
    _queries(lambda: client.get(URL, {"metrics": "nps"}))
    _, queries = _queries(lambda: client.get(URL, {"metrics": "nps", "channel": "email"}))
    assert queries > 0


# Writes that really commit (no test transaction around them): the version is bumped by the
# writer's on_commit callback, as in production.
COMMITTED = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@COMMITTED
def test_a_new_survey_response_is_in_the_next_answer(client: APIClient) -> None:
    _answered_now(Survey.Kind.NPS, 10)
    before, _ = _queries(lambda: client.get(URL, {"metrics": "nps"}))
    _answered_now(Survey.Kind.NPS, 0)
    after, queries = _queries(lambda: client.get(URL, {"metrics": "nps"}))
    assert queries > 0
    assert (before["nps"]["n"], after["nps"]["n"]) == (1, 2)
    assert after["nps"]["value"] == pytest.approx(0.0)


@COMMITTED
def test_a_new_ticket_is_in_the_next_answer(client: APIClient) -> None:
    TicketFactory.create()
    before, _ = _queries(lambda: client.get(URL, {"metrics": "resolution_rate"}))
    TicketFactory.create()
    after, _ = _queries(lambda: client.get(URL, {"metrics": "resolution_rate"}))
    assert (before["resolution_rate"]["n"], after["resolution_rate"]["n"]) == (1, 2)


@COMMITTED
def test_a_write_that_rolls_back_keeps_the_answers(client: APIClient) -> None:
    _answered_now(Survey.Kind.NPS, 10)
    _queries(lambda: client.get(URL, {"metrics": "nps"}))
    with pytest.raises(RuntimeError), transaction.atomic():
        _answered_now(Survey.Kind.NPS, 0)
        raise RuntimeError("the writer fails")
    _, queries = _queries(lambda: client.get(URL, {"metrics": "nps"}))
    assert queries == 0


def test_one_version_bump_per_transaction_however_many_rows(
    django_capture_on_commit_callbacks: Any,
) -> None:
    nps = survey(Survey.Kind.NPS)
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        for score in range(10):
            SurveyResponseFactory.create(
                invitation=SurveyInvitationFactory.create(survey=nps), score=score
            )
        TicketFactory.create()
    bumps = [callback for callback in callbacks if callback is answer_cache._new_version]
    assert len(bumps) == 1


def test_an_unknown_metric_is_a_400_naming_the_parameter(client: APIClient) -> None:
    response = client.get(URL, {"metrics": "csat,happiness"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_parameter"
    assert "happiness" in body["metrics"][0]


@pytest.mark.faults
def test_a_cache_that_is_down_is_no_cache(django_capture_on_commit_callbacks: Any) -> None:
    """Redis refusing connections (nothing listens on the port): the answer is computed every
    time, and a write's version bump fails quietly after its commit."""
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    computed: list[int] = []

    def answer() -> dict[str, int]:
        computed.append(1)
        return {"nps": 1}

    with override_settings(CACHES=down, METRICS_ANSWER_CACHE_SECONDS=300):
        for _attempt in range(2):
            assert answer_cache.cached({"metrics": ["nps"]}, answer) == {"nps": 1}
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            answer_cache.data_changed()
    assert len(computed) == 2
    assert callbacks == [answer_cache._new_version]
