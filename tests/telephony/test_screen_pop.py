"""A PBX's newCall reaches the live stream of the operator it names, and no other's."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import F

from accounts.roles import OPERATORS
from live import bus, push
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    PhoneFactory,
    TicketFactory,
    UserFactory,
)
from tests.telephony.conftest import PostEvent
from tickets.models import Status, Ticket


async def _next_event(stream: Any, timeout: float = 5) -> bus.Message:
    async def take() -> bus.Message:
        async for message in stream:
            if message is not None:  # None: subscribed, or a heartbeat
                return message
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(take(), timeout)


def test_a_new_call_pops_the_callers_card_for_the_named_operator_only(
    settings: Any, post_event: PostEvent, django_capture_on_commit_callbacks: Any
) -> None:
    settings.LIVE_REDIS_URL = ""  # the in-process bus; the browser test runs it through Redis
    olga = UserFactory.create(username="olga", groups=[OPERATORS])
    ivan = UserFactory.create(username="ivan", groups=[OPERATORS])
    anna = CustomerFactory.create(full_name="Anna Ivanova")
    PhoneFactory.create(customer=anna, value="+7 912 345-67-89")

    def ring() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(
                event="newCall",
                callId="pop-1",
                direction="in",
                **{"from": "8 (912) 345-67-89"},
                to="100",
                user=["olga"],
            )
        return int(response.status_code)

    async def scenario() -> tuple[bus.Message, bus.Message]:
        olga_stream = bus.messages(user_id=olga.pk, team_id=None, heartbeat=30)
        ivan_stream = bus.messages(user_id=ivan.pk, team_id=None, heartbeat=30)
        assert await anext(olga_stream) is None  # subscribed
        assert await anext(ivan_stream) is None
        assert await sync_to_async(ring)() == 200
        popped = await _next_event(olga_stream)
        # Ivan's stream delivers in order: his echo arriving first proves no screen-pop came.
        await sync_to_async(lambda: bus.publish("echo", {}, user_ids=[ivan.pk]))()
        ivans_first = await _next_event(ivan_stream)
        await olga_stream.aclose()
        await ivan_stream.aclose()
        return popped, ivans_first

    popped, ivans_first = async_to_sync(scenario)()

    assert popped.event == "screen_pop"
    assert popped.data["phone"] == "+79123456789"
    assert popped.data["customer_ids"] == [anna.pk]
    assert "Anna Ivanova" in popped.data["panel"]  # the compact card rides with the event
    assert ivans_first.event == "echo"


def _popped(monkeypatch: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(push, "screen_pop", lambda **kwargs: sent.append(kwargs))
    return sent


def test_the_panel_shows_name_number_open_tickets_and_last_contact_in_one_query_more(
    monkeypatch: Any,
    post_event: PostEvent,
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    sent = _popped(monkeypatch)
    olga = UserFactory.create(username="olga", groups=[OPERATORS])
    anna = CustomerFactory.create(full_name="Anna Ivanova", company="Kettles & Co")
    PhoneFactory.create(customer=anna, value="+7 912 345-67-89")
    TicketFactory.create(customer=anna, status=Status.OPEN)
    TicketFactory.create(customer=anna, status=Status.OPEN)
    done = TicketFactory.create(customer=anna, status=Status.OPEN)
    Ticket.objects.filter(pk=done.pk).update(status=Status.RESOLVED, resolved_at=F("created_at"))
    InteractionFactory.create(
        customer=anna,
        channel="email",
        started_at=dt.datetime(2026, 11, 30, 9, 15, tzinfo=dt.UTC),
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_event(event="newCall", callId="p1", direction="in", **{"from": "89123456789"},
                   to="100", user=["olga"])  # fmt: skip
    # After the commit: the operators' languages and the cards, then rendering.
    with django_assert_max_num_queries(2):
        for callback in callbacks:
            callback()
    [pop] = sent
    assert pop["operator_ids"] == [olga.pk]
    panel = pop["panel"]
    text = " ".join(re.sub(r"<[^>]+>", " ", panel).split())
    assert "Incoming call from +79123456789" in text
    assert "Anna Ivanova · Kettles &amp; Co" in text  # escaped
    assert "Open tickets 2" in text
    assert "Last contact 11/30/2026 12:15 p.m. · Email" in text  # this call is not it
    assert f'href="/customers/{anna.pk}/"' in panel


def test_the_panel_speaks_each_operators_language_and_offers_a_new_customer(
    monkeypatch: Any, post_event: PostEvent, django_capture_on_commit_callbacks: Any
) -> None:
    sent = _popped(monkeypatch)
    olga = UserFactory.create(username="olga", groups=[OPERATORS], language="ru")
    ivan = UserFactory.create(username="ivan", groups=[OPERATORS], language="en")
    with django_capture_on_commit_callbacks(execute=True):
        post_event(event="newCall", callId="p2", direction="in", **{"from": "+79035550101"},
                   to="100", user=["olga", "ivan"])  # fmt: skip
    panels = {tuple(pop["operator_ids"]): pop["panel"] for pop in sent}
    assert set(panels) == {(olga.pk,), (ivan.pk,)}
    assert "Новый клиент" in panels[(olga.pk,)]
    assert "No customer has this number." in panels[(ivan.pk,)]
    assert "New customer" in panels[(ivan.pk,)]
    assert "/customers/new/?phone=%2B79035550101" in panels[(ivan.pk,)]
