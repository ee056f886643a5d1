"""The caller log page: today's calls of my queue, missed first, link, call back."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Team, User
from telephony.models import Call
from telephony.services import record_call_event
from tests.delivery_fixtures import eager_celery
from tests.factories import CustomerFactory, PhoneFactory, UserFactory

pytestmark = pytest.mark.django_db

LOG_URL = "/calls/"


def _today(minutes: int) -> dt.datetime:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return min(start + dt.timedelta(minutes=minutes), timezone.now())


def _inbound(call_id: str, *, number: str, team: Team | None, answered: bool, minute: int) -> Call:
    queue = team.name if team else ""
    record_call_event(
        event="newCall",
        call_id=call_id,
        direction="in",
        from_number=number,
        queue=queue,
        at=_today(minute),
    )
    if answered:
        record_call_event(event="answer", call_id=call_id, at=_today(minute))
    record_call_event(event="hangup", call_id=call_id, at=_today(minute))
    return Call.objects.get(call_id=call_id)


@pytest.fixture
def first_line(operator: User) -> Team:
    assert operator.team is not None
    return operator.team


def test_missed_and_abandoned_calls_first_with_card_and_tel_links(
    client: Client, operator: User, other_team_operator: User, first_line: Team
) -> None:
    customer = CustomerFactory.create(full_name="Anna Petrova")
    PhoneFactory.create(customer=customer, value="+79001112233")
    _inbound("answered", number="+79001112233", team=first_line, answered=True, minute=2)
    _inbound("abandoned", number="+79001112233", team=first_line, answered=False, minute=1)
    _inbound(
        "other-team", number="+79004445566", team=other_team_operator.team, answered=False, minute=3
    )
    client.force_login(operator)
    response = client.get(LOG_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index('id="call-') == page.index(
        f'id="call-{Call.objects.get(call_id="abandoned").pk}"'
    )
    assert f"/customers/{customer.pk}/" in page and "Anna Petrova" in page
    assert 'href="tel:+79001112233"' in page
    assert "+79004445566" not in page
    assert f'href="{LOG_URL}"' in page  # in the top navigation


def test_the_log_is_a_bounded_number_of_queries(
    client: Client, operator: User, first_line: Team
) -> None:
    client.force_login(operator)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LOG_URL).status_code == 200
        return len(queries)

    _inbound("c0", number="+79001112200", team=first_line, answered=False, minute=1)
    count()  # the first request reads the session and the user; later ones find them kept
    few = count()
    for n in range(1, 15):
        _inbound(
            f"c{n}", number=f"+790011122{n:02d}", team=first_line, answered=n % 2 == 0, minute=1
        )
    assert count() == few


def test_linking_an_unknown_caller_puts_the_call_on_the_card(
    client: Client, operator: User, first_line: Team
) -> None:
    call = _inbound("u", number="+79007778899", team=first_line, answered=False, minute=1)
    customer = CustomerFactory.create()
    client.force_login(operator)
    bad = client.post(f"{LOG_URL}{call.pk}/link/", {f"call{call.pk}-customer": "999999"})
    assert bad.status_code == 400 and "No customer has this number." in bad.content.decode()
    good = client.post(f"{LOG_URL}{call.pk}/link/", {f"call{call.pk}-customer": customer.pk})
    assert good.status_code == 302
    call.refresh_from_db()
    assert call.customer == customer
    assert call.interaction is not None and call.interaction.customer == customer
    timeline = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f'data-interaction="{call.interaction.pk}"' in timeline


def test_a_user_without_the_role_sees_no_log(client: Client) -> None:
    client.force_login(UserFactory.create(username="nobody"))
    assert client.get(LOG_URL).status_code == 403


class _Pbx(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Pbx.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def fake_pbx() -> Iterator[str]:
    _Pbx.received = []
    server = HTTPServer(("127.0.0.1", 0), _Pbx)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/click-to-call"
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures(eager_celery.__name__)
def test_call_back_asks_the_configured_pbx_only(
    client: Client,
    operator: User,
    first_line: Team,
    fake_pbx: str,
    settings: Any,
) -> None:
    settings.TELEPHONY_CLICK_TO_CALL_URL = fake_pbx
    operator.phone_extension = "201"
    operator.save()
    call = _inbound("cb", number="+79001112233", team=first_line, answered=False, minute=1)
    client.force_login(operator)
    assert "Call back</button>" in client.get(LOG_URL).content.decode()
    response = client.post(f"{LOG_URL}{call.pk}/call-back/", {"url": "http://169.254.169.254/"})
    assert response.status_code == 302
    assert _Pbx.received == [{"from": "201", "to": "+79001112233", "callId": "cb"}]


def test_without_an_extension_call_back_says_so(
    client: Client, operator: User, first_line: Team, fake_pbx: str, settings: Any
) -> None:
    settings.TELEPHONY_CLICK_TO_CALL_URL = fake_pbx
    call = _inbound("cb", number="+79001112233", team=first_line, answered=False, minute=1)
    client.force_login(operator)
    page = client.post(f"{LOG_URL}{call.pk}/call-back/", follow=True).content.decode()
    assert "Set your phone extension" in page
    assert _Pbx.received == []


def test_another_teams_call_cannot_be_linked_or_called_back(
    client: Client, operator: User, other_team_operator: User
) -> None:
    call = _inbound("theirs", number="+79007778899", team=other_team_operator.team,
                    answered=False, minute=1)  # fmt: skip
    client.force_login(operator)
    customer = CustomerFactory.create()
    response = client.post(f"{LOG_URL}{call.pk}/link/", {f"call{call.pk}-customer": customer.pk})
    assert response.status_code == 404
    assert client.post(f"{LOG_URL}{call.pk}/call-back/").status_code == 404
    call.refresh_from_db()
    assert call.customer is None
