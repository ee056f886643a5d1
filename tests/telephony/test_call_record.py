"""One record per callId whatever the order, repetition or absence of its events."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Team
from customers.models import Interaction
from telephony import signals
from telephony.models import Call, Outcome
from telephony.services import sweep_stale_calls
from tests.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.telephony.conftest import PostEvent

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)


def _at(seconds: int) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


def _events(call_id: str) -> dict[str, dict[str, Any]]:
    common = {"callId": call_id, "from": "8 912 345-67-89", "to": "+74951234567"}
    return {
        "newCall": {
            **common,
            "event": "newCall",
            "direction": "in",
            "user[]": ["201"],
            "queue": "First line",
            "at": _at(0),
        },
        "answer": {
            **common,
            "event": "answer",
            "direction": "in",
            "answeringNumber": "201",
            "at": _at(25),
        },
        "hangup": {
            **common,
            "event": "hangup",
            "direction": "in",
            "cause": "normalClearing",
            "answeringNumber": "201",
            "at": _at(325),
        },
    }


def _snapshot(call_id: str) -> dict[str, Any]:
    call = Call.objects.get(call_id=call_id)
    interaction = call.interaction
    assert interaction is not None
    return {
        "call": {
            field: getattr(call, field)
            for field in (
                "direction",
                "caller",
                "called",
                "queue",
                "team_id",
                "rang_at",
                "answered_at",
                "answered_by_id",
                "ended_at",
                "cause",
                "customer_id",
                "outcome",
                "waiting_seconds",
            )
        },
        "operators": sorted(call.operators.values_list("pk", flat=True)),
        "interaction": {
            field: getattr(interaction, field)
            for field in (
                "customer_id",
                "channel",
                "direction",
                "started_at",
                "answered_at",
                "ended_at",
                "operator_id",
                "contact_address",
            )
        },
    }


@pytest.fixture
def scene(db: None) -> dict[str, Any]:
    team = Team.objects.create(name="First line")
    olga = UserFactory.create(username="olga", phone_extension="201", team=team)
    customer = CustomerFactory.create()
    PhoneFactory.create(customer=customer, value="+7 912 345 67 89")
    return {"team": team, "olga": olga, "customer": customer}


def _run(post_event: PostEvent, call_id: str, order: tuple[str, ...]) -> dict[str, Any]:
    events = _events(call_id)
    for name in order:
        assert post_event(**events[name]).status_code == 200
    return _snapshot(call_id)


def test_every_order_and_repetition_gives_the_same_record(
    post_event: PostEvent, scene: dict[str, Any]
) -> None:
    expected = _run(post_event, "in-order", ("newCall", "answer", "hangup"))
    assert expected["call"]["outcome"] == Outcome.ANSWERED
    assert expected["call"]["waiting_seconds"] == 25
    assert expected["call"]["customer_id"] == scene["customer"].pk
    assert expected["call"]["answered_by_id"] == scene["olga"].pk
    assert expected["interaction"]["started_at"] == T0
    assert expected["interaction"]["answered_at"] == T0 + dt.timedelta(seconds=25)
    orders = list(itertools.permutations(("newCall", "answer", "hangup")))
    # Each order, then each order with one of its events repeated at every later position.
    variants = orders + [
        order[: i + 1] + order[j : j + 1] + order[i + 1 :]
        for order in orders
        for i in range(3)
        for j in range(i + 1)
    ]
    for number, order in enumerate(variants):
        assert _run(post_event, f"v{number}", order) == expected, order
    assert Interaction.objects.filter(external_id__startswith="v").count() == len(variants)


@pytest.mark.parametrize("order", [("newCall", "hangup"), ("hangup", "newCall")])
def test_missing_answer_is_an_abandoned_call_whatever_the_order(
    post_event: PostEvent, scene: dict[str, Any], order: tuple[str, ...]
) -> None:
    snapshot = _run(post_event, "no-answer", order)
    assert snapshot["call"]["outcome"] == Outcome.ABANDONED
    assert snapshot["call"]["answered_at"] is None
    assert snapshot["call"]["ended_at"] == T0 + dt.timedelta(seconds=325)
    assert snapshot["interaction"]["answered_at"] is None


@pytest.mark.parametrize("order", [("newCall", "answer"), ("answer", "newCall")])
def test_missing_hangup_is_closed_by_the_sweep_and_a_late_hangup_corrects_it(
    post_event: PostEvent, scene: dict[str, Any], order: tuple[str, ...], settings: Any
) -> None:
    settings.TELEPHONY_STALE_CALL_MINUTES = 30
    snapshot = _run(post_event, "no-hangup", order)
    assert snapshot["call"]["outcome"] == Outcome.TALKING
    assert sweep_stale_calls(now=T0 + dt.timedelta(minutes=29)) == 0
    assert sweep_stale_calls(now=T0 + dt.timedelta(minutes=31)) == 1
    assert sweep_stale_calls(now=T0 + dt.timedelta(minutes=32)) == 0  # once
    swept = _snapshot("no-hangup")
    assert swept["call"]["ended_at"] == T0 + dt.timedelta(seconds=25)
    assert swept["interaction"]["ended_at"] == T0 + dt.timedelta(seconds=25)
    assert swept["call"]["outcome"] == Outcome.ANSWERED
    post_event(**_events("no-hangup")["hangup"])
    assert _snapshot("no-hangup")["call"]["ended_at"] == T0 + dt.timedelta(seconds=325)


def test_sweep_runs_as_the_calls_job(
    post_event: PostEvent, scene: dict[str, Any], settings: Any
) -> None:
    from crm.jobs import run_job

    settings.TELEPHONY_STALE_CALL_MINUTES = 30
    _run(post_event, "open", ("newCall",))
    assert run_job("calls")["closed"] == 1
    assert Call.objects.get(call_id="open").outcome == Outcome.ABANDONED


def test_a_call_that_never_reached_anybody_is_missed(post_event: PostEvent) -> None:
    post_event(event="newCall", callId="m1", direction="in", **{"from": "+79001112233"})
    post_event(event="hangup", callId="m1", cause="cancel")
    post_event(
        event="newCall", callId="m2", direction="in", **{"from": "+79001112233"}, queue="support"
    )
    post_event(event="hangup", callId="m2", cause="notFound")
    assert Call.objects.get(call_id="m1").outcome == Outcome.MISSED
    assert Call.objects.get(call_id="m2").outcome == Outcome.MISSED


def test_a_queue_named_like_a_team_rings_its_members(
    post_event: PostEvent, scene: dict[str, Any]
) -> None:
    post_event(
        event="newCall", callId="q1", direction="in", **{"from": "+79001112233"}, queue="first line"
    )
    call = Call.objects.get(call_id="q1")
    assert call.team == scene["team"]
    assert list(call.operators.all()) == [scene["olga"]]


def test_signals_go_out_after_commit_once(
    post_event: PostEvent, scene: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    def ringing(sender: object, **kwargs: Any) -> None:
        received.append(("ringing", {k: v for k, v in kwargs.items() if k != "signal"}))

    def updated(sender: object, **kwargs: Any) -> None:
        received.append(("updated", {k: v for k, v in kwargs.items() if k != "signal"}))

    signals.call_ringing.connect(ringing)
    signals.call_updated.connect(updated)
    try:
        events = _events("s1")
        with django_capture_on_commit_callbacks(execute=True):
            post_event(**events["newCall"])
            post_event(**events["newCall"])  # a repeat signals nothing
            post_event(**events["answer"])
            post_event(**events["hangup"])
    finally:
        signals.call_ringing.disconnect(ringing)
        signals.call_updated.disconnect(updated)
    call = Call.objects.get(call_id="s1")
    assert received == [
        (
            "ringing",
            {
                "call_id": call.pk,
                "operator_ids": [scene["olga"].pk],
                "phone": "+79123456789",
                "customer_ids": [scene["customer"].pk],
            },
        ),
        ("updated", {"call_id": call.pk, "state": "answered"}),
        ("updated", {"call_id": call.pk, "state": "ended"}),
    ]


def test_an_answered_call_back_closes_the_missed_call(post_event: PostEvent) -> None:
    post_event(
        event="newCall",
        callId="missed",
        direction="in",
        **{"from": "89001112233"},
        queue="support",
        at=_at(0),
    )
    post_event(event="hangup", callId="missed", cause="cancel", at=_at(30))
    post_event(
        event="newCall",
        callId="back",
        direction="out",
        **{"from": "201"},
        to="+7 900 111-22-33",
        at=_at(600),
    )
    assert Call.objects.get(call_id="missed").called_back_by is None  # not reached yet
    post_event(event="answer", callId="back", at=_at(610))
    assert Call.objects.get(call_id="missed").called_back_by == Call.objects.get(call_id="back")


def test_a_number_without_customer_stays_unlinked(post_event: PostEvent) -> None:
    post_event(event="newCall", callId="u1", direction="in", **{"from": "+79005556677"})
    call = Call.objects.get(call_id="u1")
    assert call.customer is None and call.interaction is not None
    assert call.interaction.customer is None
