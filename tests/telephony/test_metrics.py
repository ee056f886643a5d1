"""Abandonment and waiting time over call records, against figures computed by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from accounts.models import User
from customers.models import Channel, Interaction
from customers.services import log_interaction
from metrics import engine as calc
from metrics import rollup_days, rollups
from metrics.periods import MetricFilters
from metrics.registry import families
from telephony.models import Call, Outcome
from telephony.services import record_call_event
from tests.factories import CustomerFactory, UserFactory
from tests.metrics.helpers import IN_MARCH, MARCH, march

pytestmark = pytest.mark.django_db


def _call(call_id: str, *events: tuple[str, int, dict[str, Any]]) -> Call:
    for event, second, fields in events:
        record_call_event(
            event=event, call_id=call_id, at=IN_MARCH + dt.timedelta(seconds=second), **fields
        )
    return Call.objects.get(call_id=call_id)


def _hand_logged(operator: User) -> Interaction:
    return log_interaction(
        customer=CustomerFactory.create(),
        actor=operator,
        channel=Channel.PHONE,
        direction=Interaction.Direction.INBOUND,
        summary="Called about delivery",
        started_at=IN_MARCH,
    )


@pytest.fixture
def calls(db: None) -> dict[str, Call]:
    UserFactory.create(username="olga", phone_extension="201")
    ring = {"direction": "in", "from_number": "+79001112233", "users": ["201"]}
    return {
        "answered_20": _call(
            "a", ("newCall", 0, ring), ("answer", 20, {"answering_number": "201"}),
            ("hangup", 200, {"cause": "normalClearing"}),
        ),
        "answered_40": _call(
            "b", ("newCall", 0, ring), ("answer", 40, {"answering_number": "201"}),
            ("hangup", 300, {"cause": "normalClearing"}),
        ),
        "abandoned_60": _call(
            "c", ("hangup", 60, {"cause": "cancel"}),
            ("newCall", 0, {**ring, "users": [], "queue": "support"}),
        ),
        "missed_5": _call(
            "d", ("newCall", 0, ring), ("hangup", 5, {"cause": "notFound"}),
        ),
        "outbound": _call(
            "e", ("newCall", 0, {"direction": "out", "to_number": "+79001112233"}),
            ("answer", 10, {}), ("hangup", 100, {}),
        ),
        "still_ringing": _call("f", ("newCall", 0, ring)),
    }  # fmt: skip


def test_abandonment_and_waiting_time_over_call_records(calls: dict[str, Call]) -> None:
    _hand_logged(UserFactory.create())  # answered "at once": not a measurement, left out
    assert [c.outcome for c in calls.values()] == [
        Outcome.ANSWERED, Outcome.ANSWERED, Outcome.ABANDONED, Outcome.MISSED,
        Outcome.ANSWERED, Outcome.RINGING,
    ]  # fmt: skip
    # Inbound calls with an outcome: a, b, c, d (the ringing one has none yet, e is outbound).
    abandonment = calc.compute_metric("abandonment_rate", march())
    assert (abandonment.value, abandonment.n) == (pytest.approx(2 / 4 * 100), 4)
    # Each waited until answered or until they gave up: 20, 40, 60 and 5 seconds.
    waiting = calc.compute_metric("average_waiting_time", march())
    assert (waiting.value, waiting.n) == (pytest.approx((20 + 40 + 60 + 5) / 4), 4)
    assert calls["answered_20"].waiting_seconds == 20


def test_the_rollups_hold_the_same_figures(calls: dict[str, Call]) -> None:
    _hand_logged(UserFactory.create())
    rollups.roll_up("inbound", MARCH.start, MARCH.end)
    members = families()["inbound"]
    covered = rollup_days.covered_days({"inbound": rollups.schema(members)}, MARCH.start, MARCH.end)
    assert IN_MARCH.date() in covered["inbound"]
    filters = MetricFilters(period=MARCH)
    from_rollups = calc.compute_all(filters, ["abandonment_rate", "average_waiting_time"])
    assert from_rollups["abandonment_rate"].n == 4
    assert from_rollups["average_waiting_time"].value == pytest.approx(31.25)


def test_hand_logged_contacts_alone_give_no_data(db: None) -> None:
    _hand_logged(UserFactory.create())
    for name in ("abandonment_rate", "average_waiting_time"):
        estimate = calc.compute_metric(name, march())
        assert (estimate.value, estimate.n) == (None, 0), name


def test_the_dashboard_tiles_say_no_data(client: Any, supervisor: User) -> None:
    _hand_logged(supervisor)
    client.force_login(supervisor)
    response = client.get("/metrics/", {"start": "2025-03-01", "end": "2025-03-31"})
    assert response.status_code == 200
    tiles = response.content.decode()
    for label in ("Abandonment rate", "Average waiting time"):
        tile = tiles[tiles.index(label) :][:1500]
        assert "no data" in tile, label
