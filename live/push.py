"""The events other apps push to the operators' pages, one function each.

Domain apps call these (after their transaction commits); `live` imports no domain app.
"""

from __future__ import annotations

from live import bus


def screen_pop(
    *,
    operator_ids: list[int],
    phone: str,
    customer_ids: list[int],
    call_id: int | None,
    panel: str = "",
) -> None:
    """A call rings for these operators: their open page shows the caller's card.

    `panel` is the caller's compact card as HTML (rendered, escaped, by the publisher): the page
    shows it at once, then opens the full card; without it the page opens the card directly.
    """
    if not operator_ids:
        return
    bus.publish(
        "screen_pop",
        {"phone": phone, "customer_ids": list(customer_ids), "call_id": call_id, "panel": panel},
        user_ids=operator_ids,
    )


def echo(*, user_id: int, sent_at: float) -> None:
    """A bare round trip through the bus to one user's pages (the benchmark's baseline)."""
    bus.publish("echo", {"sent_at": sent_at}, user_ids=[user_id])
