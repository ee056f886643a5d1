"""The telephony's one hook into the live workspace: a ringing call pops the caller's card in
the browsers of the operators it rings for (`live` knows no domain app; telephony calls it)."""

from __future__ import annotations

from typing import Any

from live import push
from telephony import signals


def pop_the_callers_card(
    sender: Any,
    *,
    call_id: int,
    operator_ids: list[int],
    phone: str,
    customer_ids: list[int],
    **kwargs: Any,
) -> None:
    """`call_ringing` (sent after commit, once per call): the screen-pop."""
    push.screen_pop(
        operator_ids=operator_ids, phone=phone, customer_ids=customer_ids, call_id=call_id
    )


def connect() -> None:
    """Connect the receiver (TelephonyConfig.ready)."""
    signals.call_ringing.connect(pop_the_callers_card, dispatch_uid="telephony.live.screen_pop")
