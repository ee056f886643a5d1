"""The public answer page /s/<token>/: valid, repeated, expired, unknown, off-scale, malicious."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from accounts.models import User
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from surveys.services import record_response
from tests.factories import CustomerFactory, SurveyFactory, SurveyInvitationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def _invitation(**customer: Any) -> SurveyInvitation:
    customer.setdefault("full_name", "Anna Ivanova")
    return SurveyInvitationFactory.create(
        survey=SurveyFactory.create(kind=Survey.Kind.CSAT),
        customer=CustomerFactory.create(**customer),
    )


def _url(invitation: SurveyInvitation) -> str:
    return reverse("surveys:answer", args=[invitation.token])


def test_the_page_asks_the_question_with_one_button_per_score() -> None:
    invitation = _invitation(language="en")
    response = Client().get(_url(invitation))
    assert response.status_code == 200
    text = response.text
    assert "How satisfied are you with the service you received?" in text
    for score in range(1, 6):
        assert f'name="score" value="{score}"' in text
    assert "Hello, Anna!" in text
    assert "Ivanova" not in text  # nothing beyond the first name
    assert invitation.customer.external_id not in text
    assert response["X-Robots-Tag"].startswith("noindex")
    assert "no-store" in response["Cache-Control"]
    # same-origin: the link stays out of Referers to other sites, and the browser still sends
    # the form's Origin, which CSRF protection needs (no-referrer makes it "null": a 403).
    assert response["Referrer-Policy"] == "same-origin"
    assert '<meta name="referrer" content="same-origin">' in text
    assert 'name="csrfmiddlewaretoken"' in text


def test_the_page_speaks_the_customers_language_and_can_switch() -> None:
    invitation = _invitation(language="ru")
    russian = Client().get(_url(invitation))
    assert "Насколько вы довольны" in russian.text
    assert russian["Content-Language"] == "ru"
    english = Client().get(_url(invitation), {"lang": "en"})
    assert "How satisfied are you" in english.text
    ignored = Client().get(_url(invitation), {"lang": "xx"})
    assert ignored["Content-Language"] == "ru"


def test_the_survey_question_written_for_the_language_wins() -> None:
    invitation = _invitation(language="en")
    invitation.survey.questions = {"en": "How did Olga do today?"}
    invitation.survey.save()
    assert "How did Olga do today?" in Client().get(_url(invitation)).text


def test_one_tap_records_the_answer_and_thanks() -> None:
    invitation = _invitation()
    response = Client().post(_url(invitation), {"score": "5", "comment": "Great, thanks!"})
    assert response.status_code == 200
    assert "Thank you, Anna!" in response.text
    answer = SurveyResponse.objects.get(invitation=invitation)
    assert (answer.score, answer.comment, answer.sentiment) == (5, "Great, thanks!", "positive")


def test_a_score_without_a_comment_has_no_sentiment() -> None:
    invitation = _invitation()
    Client().post(_url(invitation), {"score": "2"})
    answer = SurveyResponse.objects.get(invitation=invitation)
    assert (answer.score, answer.comment, answer.sentiment) == (2, "", "")


def test_a_second_answer_says_already_answered_and_records_nothing() -> None:
    invitation = _invitation()
    client = Client()
    client.post(_url(invitation), {"score": "1", "comment": "Bad"})
    response = client.post(_url(invitation), {"score": "5", "comment": "Changed my mind"})
    assert response.status_code == 200
    assert "You have already answered this survey" in response.text
    assert "Thank you, Anna" not in response.text
    answer = SurveyResponse.objects.get(invitation=invitation)
    assert (answer.score, answer.comment) == (1, "Bad")
    again = client.get(_url(invitation))
    assert "You have already answered this survey" in again.text
    assert "has been recorded" not in again.text


def test_the_answered_link_says_so_in_the_customers_language() -> None:
    invitation = _invitation(language="ru")
    SurveyResponse.objects.create(invitation=invitation, score=4)
    response = Client().get(_url(invitation))
    assert response.status_code == 200
    assert "Вы уже ответили на этот опрос" in response.text


def test_an_answer_racing_another_tab_says_already_answered(monkeypatch: Any) -> None:
    """The page was open in two tabs: the other one's answer landed between read and write."""
    invitation = _invitation()
    real_record = record_response

    def answered_elsewhere_first(**kwargs: Any) -> Any:
        SurveyResponse.objects.create(invitation=invitation, score=2)
        return real_record(**kwargs)

    monkeypatch.setattr("surveys.views.record_response", answered_elsewhere_first)
    response = Client().post(_url(invitation), {"score": "5"})
    assert "You have already answered this survey" in response.text
    assert SurveyResponse.objects.get(invitation=invitation).score == 2


def test_a_racing_second_answer_loses_to_the_constraint() -> None:
    """Two requests that both saw "not answered yet": the database keeps the first."""
    invitation = _invitation()
    SurveyResponse.objects.create(invitation=invitation, score=4)
    stale = SurveyInvitation.objects.get(pk=invitation.pk)
    response, created = record_response(invitation=stale, score=1)
    assert created is False and response.score == 4
    assert SurveyResponse.objects.filter(invitation=invitation).count() == 1


def test_an_expired_invitation_says_the_survey_has_closed() -> None:
    invitation = _invitation()
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - dt.timedelta(days=30),
        expires_at=timezone.now() - dt.timedelta(days=1),
    )
    for response in (
        Client().get(_url(invitation)),
        Client().post(_url(invitation), {"score": "5"}),
    ):
        assert response.status_code == 410
        assert "This survey has closed" in response.text
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize(
    "token", ["x" * 43, "short", "%3Cscript%3E", "a" * 200, "'; DROP TABLE surveys; --"]
)
def test_unknown_or_malformed_tokens_are_the_same_404(token: str) -> None:
    response = Client().get(f"/s/{token}/")
    assert response.status_code == 404
    assert "Survey not found" in response.text


@pytest.mark.parametrize("score", ["0", "6", "-1", "five", "", "3.5"])
def test_a_score_off_the_scale_is_a_form_error(score: str) -> None:
    invitation = _invitation()
    response = Client().post(_url(invitation), {"score": score})
    assert response.status_code == 400
    assert 'class="errors"' in response.text
    assert not SurveyResponse.objects.exists()


def test_a_too_long_comment_is_a_form_error() -> None:
    invitation = _invitation()
    response = Client().post(_url(invitation), {"score": "3", "comment": "x" * 2001})
    assert response.status_code == 400
    assert not SurveyResponse.objects.exists()


def test_the_answer_needs_the_csrf_token() -> None:
    invitation = _invitation()
    client = Client(enforce_csrf_checks=True)
    assert client.post(_url(invitation), {"score": "5"}).status_code == 403
    assert not SurveyResponse.objects.exists()


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    ("language", "heading", "retry"),
    [
        ("en", "Your answer was not sent", "Open the survey again"),
        ("ru", "Ваш ответ не отправлен", "Открыть опрос заново"),
    ],
)
def test_a_refused_csrf_token_is_told_in_the_survey_layout_with_the_link_again(
    language: str, heading: str, retry: str
) -> None:
    invitation = _invitation(language=language)
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    page = client.get(_url(invitation)).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    client.cookies.clear()  # the page was open too long, or the browser blocks cookies

    response = client.post(
        _url(invitation), {"csrfmiddlewaretoken": token.group(1), "score": "5", "lang": language}
    )

    assert response.status_code == 403
    text = response.text
    assert 'class="survey-page"' in text and f'<html lang="{language}">' in text
    assert heading in text
    assert "topbar" not in text and "/accounts/login/" not in text  # not the staff layout
    retry_url = f"{_url(invitation)}?lang={language}"
    assert f'<a class="retry" href="{retry_url}">{retry}</a>' in text
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert not SurveyResponse.objects.exists()
    # The link again: the question, with a fresh token that records the answer.
    again = client.get(retry_url)
    assert again.status_code == 200 and 'name="score" value="5"' in again.text
    fresh = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', again.text)
    assert fresh is not None
    done = client.post(_url(invitation), {"csrfmiddlewaretoken": fresh.group(1), "score": "5"})
    assert done.status_code == 200 and SurveyResponse.objects.get().score == 5


@override_settings(DEBUG=False)
def test_a_refused_csrf_token_elsewhere_keeps_the_staff_page() -> None:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)

    response = client.post("/accounts/login/", {"username": "a", "password": "b"})

    assert response.status_code == 403
    assert "survey-page" not in response.text and "topbar" in response.text


def test_html_in_a_comment_is_escaped_where_operators_read_it(admin_user: User) -> None:
    invitation = _invitation()
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    Client().post(_url(invitation), {"score": "2", "comment": payload})
    answer = SurveyResponse.objects.get()
    assert answer.comment == payload  # stored as typed
    operator_view = Client()
    operator_view.force_login(admin_user)
    for url in (
        reverse("admin:surveys_surveyresponse_changelist"),
        reverse("admin:surveys_surveyresponse_change", args=[answer.pk]),
    ):
        text = operator_view.get(url).text
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text


def test_a_company_or_anonymised_customer_is_not_named() -> None:
    company = _invitation(full_name="Acme Ltd", kind="company")
    assert "Acme" not in Client().get(_url(company)).text
    erased = _invitation(full_name="Erased Person", anonymised_at=timezone.now())
    assert "Erased" not in Client().get(_url(erased)).text


def test_requests_are_rate_limited_per_token(settings: Settings) -> None:
    settings.SURVEY_ANSWER_RATE_LIMIT = {"per_ip": 100, "per_token": 3, "window_seconds": 60}
    invitation = _invitation()
    client = Client()
    statuses = [client.get(_url(invitation)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.post(_url(invitation), {"score": "5"})
    assert limited.status_code == 429
    assert "Too many attempts" in limited.text
    assert not SurveyResponse.objects.exists()


def test_requests_are_rate_limited_per_client_address(settings: Settings) -> None:
    settings.SURVEY_ANSWER_RATE_LIMIT = {"per_ip": 3, "per_token": 100, "window_seconds": 60}
    client = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [client.get(f"/s/{'a' * 20}{n}/").status_code for n in range(4)]
    assert statuses == [404, 404, 404, 429]
    assert Client(REMOTE_ADDR="203.0.113.8").get(f"/s/{'a' * 20}/").status_code == 404


def test_behind_the_proxy_each_respondent_has_a_bucket_of_their_own(settings: Settings) -> None:
    """Every request comes from the proxy's socket address; the client is in X-Forwarded-For
    (the rightmost entry, the one the proxy wrote), so respondents do not share one bucket and
    a forged entry further left changes nothing."""
    settings.CRM_TRUSTED_PROXY_COUNT = 1
    settings.SURVEY_ANSWER_RATE_LIMIT = {"per_ip": 3, "per_token": 100, "window_seconds": 60}
    proxy = "10.0.0.2"

    def get(n: int, forwarded: str) -> int:
        client = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded)
        return client.get(f"/s/{'a' * 20}{n}/").status_code

    # One respondent, who writes a new address of their own in front at every request.
    assert [get(n, f"198.51.100.{n}, 203.0.113.7") for n in range(4)] == [404, 404, 404, 429]
    # Another respondent behind the same proxy is not limited by the first.
    assert get(9, "203.0.113.8") == 404


def test_the_page_reads_a_bounded_number_of_rows(django_assert_max_num_queries: Any) -> None:
    invitation = _invitation()
    with django_assert_max_num_queries(2):
        Client().get(_url(invitation))
