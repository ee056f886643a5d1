"""The predicted-value box in Chromium: the largest believable figures, grouped in Russian,
stay inside the third-width box (issue 14, item 3: the old card printed 16 digits across it)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from tests.browser.test_card_browser import log_in
from tests.factories import UserFactory
from tests.metrics.test_clv_checks import _big_spender, _sound_fit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def russian_operator() -> User:
    user = UserFactory.create(username="browser.katya", language="ru")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["customers"], codename__startswith="view_"
        )
    )
    return user


def test_the_prediction_figures_stay_inside_their_box(
    browser_page: Any, live_server: Any, russian_operator: User
) -> None:
    _sound_fit()
    customer = _big_spender()
    page = browser_page
    log_in(page, live_server, russian_operator)

    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.wait_for_selector("#section-predicted_value dd")

    box = page.eval_on_selector("#section-predicted_value", "e => e.getBoundingClientRect().right")
    figures = page.eval_on_selector_all(
        "#section-predicted_value dd",
        "els => els.map(e => ({text: e.innerText, right: e.getBoundingClientRect().right,"
        " overflow: e.scrollWidth - e.clientWidth}))",
    )
    assert len(figures) == 3
    assert "RUB" in figures[0]["text"] and "," in figures[0]["text"]  # 1 234 567,89 RUB
    for figure in figures:
        assert figure["right"] <= box, figure
        assert figure["overflow"] <= 0, figure
