"""A customer answers the public survey page on a phone in Chromium, in English and Russian.

The form's POST carries the browser's Origin header; with `Referrer-Policy: no-referrer` it was
"null" and CSRF protection answered 403, which scripted POSTs (no Origin at all) never showed.
"""

from __future__ import annotations

from typing import Any

import pytest

from customers.models import Customer
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tests.factories import CustomerFactory, SurveyFactory, SurveyInvitationFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# (kind, language, the customer's first name, what the page asks, the score tapped)
CASES = [
    (Survey.Kind.CSAT, "en", "Anna", "How satisfied are you with the service", 4),
    (Survey.Kind.CSAT, "ru", "Анна", "Насколько вы довольны", 5),
    (Survey.Kind.NPS, "en", "Anna", "How likely are you to recommend us", 9),
    (Survey.Kind.NPS, "ru", "Анна", "Насколько вероятно, что вы порекомендуете", 0),
    (Survey.Kind.CES, "en", "Anna", "How easy was it to get your issue resolved?", 2),
    (Survey.Kind.CES, "ru", "Анна", "Насколько легко было решить ваш вопрос?", 7),
]
THANKS = {"en": "Thank you, {name}!", "ru": "Спасибо, {name}!"}
ALREADY = {"en": "You have already answered this survey", "ru": "Вы уже ответили на этот опрос"}


def _invitation(kind: str, language: str, name: str) -> SurveyInvitation:
    customer: Customer = CustomerFactory.create(full_name=f"{name} Smith", language=language)
    return SurveyInvitationFactory.create(survey=SurveyFactory.create(kind=kind), customer=customer)


@pytest.mark.parametrize(
    ("kind", "language", "name", "question", "score"),
    CASES,
    ids=[f"{kind}-{language}" for kind, language, *_rest in CASES],
)
def test_a_customer_answers_on_a_phone_and_the_link_then_says_already_answered(
    phone_page: Any,
    live_server: Any,
    kind: str,
    language: str,
    name: str,
    question: str,
    score: int,
) -> None:
    page = phone_page
    invitation = _invitation(kind, language, name)
    link = f"{live_server.url}/s/{invitation.token}/"

    page.goto(link)
    assert question in page.inner_text("h1.question")
    assert page.get_attribute("html", "lang") == language
    page.fill("#comment", "Быстро и вежливо" if language == "ru" else "Quick and polite")
    # The buttons fit the phone's width: every score is on screen without scrolling sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    with page.expect_navigation():
        page.tap(f"button[name=score][value='{score}']")

    assert page.inner_text("h1") == THANKS[language].format(name=name)
    answer = SurveyResponse.objects.get(invitation=invitation)
    assert answer.score == score
    assert answer.comment in {"Быстро и вежливо", "Quick and polite"}

    page.goto(link)
    assert page.inner_text("h1") == ALREADY[language]
    assert THANKS[language].format(name=name) not in page.content()
    assert page.locator("button[name=score]").count() == 0
    assert SurveyResponse.objects.filter(invitation=invitation).count() == 1
