"""A PBX's newCall reaches the live stream of the operator it names, and no other's."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from accounts.roles import OPERATORS
from live import bus
from tests.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.telephony.conftest import PostEvent


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
    assert ivans_first.event == "echo"
