"""POST /api/v1/telephony/events/: the shape, the bodies, the token that can do nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import issue_token
from telephony.models import Call, CallEvent, Direction
from tests.factories import CustomerFactory, PhoneFactory, TeamFactory, UserFactory
from tests.telephony.conftest import EVENTS_URL, PostEvent

pytestmark = pytest.mark.django_db


def test_new_call_as_zammad_sends_it_form_encoded(pbx: APIClient) -> None:
    olga = UserFactory.create(username="olga", phone_extension="201")
    customer = CustomerFactory.create()
    PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    body = (
        "event=newCall&from=89123456789&to=4951234567&direction=in&callId=abc-1"
        "&user%5B%5D=201&user%5B%5D=nobody&queue=support"
    )
    response = pbx.generic(
        "POST", EVENTS_URL, body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "call": response.json()["call"],
        "duplicate": False,
        "customers": [customer.pk],
    }
    call = Call.objects.get(call_id="abc-1")
    assert (call.caller, call.called, call.direction) == ("+79123456789", "+74951234567", "in")
    assert list(call.operators.all()) == [olga]
    assert call.customer == customer
    assert call.interaction is not None and call.interaction.customer == customer


def test_json_body_with_user_list_and_answering_number(post_event: PostEvent) -> None:
    ivan = UserFactory.create(username="ivan")
    assert (
        post_event(
            event="newCall",
            callId="c2",
            direction="in",
            **{"from": "+79001112233"},
            to="100",
            user=["ivan"],
        ).status_code
        == 200
    )
    response = post_event(event="answer", callId="c2", answeringNumber="ivan")
    assert response.status_code == 200
    call = Call.objects.get(call_id="c2")
    assert call.answered_by == ivan
    assert call.called == "100"  # an extension is kept as given


def test_a_repeated_event_is_recognised(post_event: PostEvent) -> None:
    first = post_event(event="newCall", callId="c3", direction="in", **{"from": "+79001112233"})
    again = post_event(event="newCall", callId="c3", direction="in", **{"from": "+79001112233"})
    assert again.status_code == 200
    assert again.json()["duplicate"] is True and first.json()["call"] == again.json()["call"]
    assert CallEvent.objects.filter(call_id="c3").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"callId": "x"}, "event"),
        ({"event": "ring", "callId": "x"}, "event"),
        ({"event": "hangup"}, "callId"),
        ({"event": "newCall", "callId": "x"}, "direction"),
        ({"event": "newCall", "callId": "x", "direction": "sideways"}, "direction"),
        ({"event": "hangup", "callId": "x", "at": "2999-01-01T00:00:00Z"}, "at"),
        ({"event": "hangup", "callId": "x" * 101}, "callId"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    post_event: PostEvent, body: dict[str, str], field: str
) -> None:
    response = post_event(**body)
    assert response.status_code == 400
    assert field in str(response.json())
    assert not Call.objects.exists() and not CallEvent.objects.exists()


def test_an_unknown_cause_is_kept_as_given(post_event: PostEvent) -> None:
    post_event(event="newCall", callId="c4", direction="in", **{"from": "+79001112233"})
    post_event(event="hangup", callId="c4", cause="pbxRebooted")
    assert Call.objects.get(call_id="c4").cause == "pbxRebooted"


def test_the_pbx_token_can_do_nothing_else(pbx: APIClient, post_event: PostEvent) -> None:
    customer = CustomerFactory.create()
    refused = [
        pbx.get("/api/v1/customers/"),
        pbx.get("/api/v1/customers/lookup/", {"phone": "+79123456789"}),
        pbx.get(f"/api/v1/customers/{customer.pk}/export/"),
        pbx.get(f"/api/v1/customers/{customer.pk}/card/"),
        pbx.get("/api/v1/interactions/"),
        pbx.post("/api/v1/customers/", {"full_name": "X"}, format="json"),
        pbx.get("/api/v1/tickets/"),
        pbx.get("/api/v1/metrics/"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    pbx_user = User.objects.get(username="pbx-main")
    assert not pbx_user.is_staff
    assert pbx_user.get_all_permissions() == {"telephony.add_callevent"}
    assert post_event(event="newCall", callId="ok", direction=Direction.INBOUND).status_code == 200


def test_an_operator_cannot_post_call_events(operator: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user=operator)[1]}")
    response = client.post(
        EVENTS_URL, {"event": "newCall", "callId": "x", "direction": "in"}, format="json"
    )
    assert response.status_code == 403
    assert APIClient().post(EVENTS_URL, {}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("event", "most"),
    [
        # Each counts the token, its permissions (one read) and the service's transaction (here a
        # savepoint and its release inside the test's). newCall: the locked call (created:
        # savepoint, insert, release), its events, the event, the operators, the queue's team,
        # the customers with the number, the timeline entry (get_or_create: select, savepoint,
        # insert, release), the call, the operators rung. Before: 32.
        ("newCall", 19),
        # The locked call, its events, the event, the answering operator, the timeline entry
        # and the call updated in place. Before: 23.
        ("answer", 10),
        # As the answer, without the operator: nothing a hangup says changes who answered.
        ("hangup", 9),
    ],
)
def test_an_event_costs_a_bounded_number_of_statements(
    post_event: PostEvent, django_assert_max_num_queries: Any, event: str, most: int
) -> None:
    team = TeamFactory.create(name="support")
    UserFactory.create(username="olga", phone_extension="201", team=team)
    customer = CustomerFactory.create()
    PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    events: dict[str, dict[str, Any]] = {
        "newCall": {
            "event": "newCall",
            "direction": "in",
            "from": "89123456789",
            "to": "+74950000000",
            "user": ["201"],
            "queue": "support",
        },
        "answer": {"event": "answer", "answeringNumber": "201"},
        "hangup": {"event": "hangup", "cause": "normalClearing"},
    }
    # Other calls from the same number and in the same queue: the cost does not grow with them.
    for n in range(3):
        for kind in ("newCall", "answer", "hangup"):
            assert post_event(callId=f"earlier-{n}", **events[kind]).status_code == 200
    for kind in ("newCall", "answer", "hangup"):
        if kind == event:
            with django_assert_max_num_queries(most):
                response = post_event(callId="measured", **events[kind])
            assert response.status_code == 200 and response.json()["customers"] == [customer.pk]
            break
        assert post_event(callId="measured", **events[kind]).status_code == 200
    call = Call.objects.get(call_id="measured")
    assert call.customer == customer and call.team == team
    assert call.interaction is not None and call.interaction.customer == customer


def test_the_pbx_has_a_rate_limit_of_its_own(post_event: PostEvent, settings: Any) -> None:
    settings.API_THROTTLE_RATE = "2/hour"  # the API's hourly rate does not hold a PBX back
    settings.TELEPHONY_THROTTLE_RATE = "3/minute"  # a window no slow run crosses
    cache.clear()  # the rate's history of earlier tests' PBX users
    statuses = [
        post_event(event="hangup", callId=f"t{n}", cause="normalClearing").status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
