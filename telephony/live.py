"""The telephony's one hook into the live workspace: a ringing call pops the caller's card in
the browsers of the operators it rings for (`live` knows no domain app; telephony calls it).

The event carries a compact card (name, number, open tickets, last contact, the link to the
full card), rendered here once per language and time zone of the operators it rings for, so
their pages show it without a request; the full card loads after it.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from live import push
from telephony import signals
from telephony.selectors import caller_cards


def screen_pop_panel(
    *, phone: str, customer_ids: list[int], call_id: int | None, cards: list[Any]
) -> str:
    """The compact card(s) of the caller, in the active language and time zone."""
    return render_to_string(
        "telephony/_screen_pop.html",
        {
            "phone": phone,
            "call_id": call_id,
            "cards": [
                {"card": card, "url": reverse("customers:card", args=[card.customer_id])}
                for card in cards
            ],
            "more": len(customer_ids) > len(cards),
            "call_url": reverse("call") + "?" + urlencode({"phone": phone}),
            "new_url": reverse("customers:new") + "?" + urlencode({"phone": phone}),
        },
    )


def _zone(name: str) -> zoneinfo.ZoneInfo | Any:
    try:
        return zoneinfo.ZoneInfo(name) if name else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def pop_the_callers_card(
    sender: Any,
    *,
    call_id: int,
    operator_ids: list[int],
    phone: str,
    customer_ids: list[int],
    **kwargs: Any,
) -> None:
    """`call_ringing` (sent after commit, once per call): the screen-pop, with its panel."""
    if not operator_ids:
        return
    cards = caller_cards(customer_ids=customer_ids, call_id=call_id)
    audiences: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, language, zone in User.objects.filter(pk__in=operator_ids).values_list(
        "pk", "language", "time_zone"
    ):
        audiences[(language or settings.LANGUAGE_CODE, zone)].append(pk)
    for (language, zone), ids in audiences.items():
        with translation.override(language), timezone.override(_zone(zone)):
            panel = screen_pop_panel(
                phone=phone, customer_ids=customer_ids, call_id=call_id, cards=cards
            )
        push.screen_pop(
            operator_ids=ids,
            phone=phone,
            customer_ids=customer_ids,
            call_id=call_id,
            panel=panel,
        )


def connect() -> None:
    """Connect the receiver (TelephonyConfig.ready)."""
    signals.call_ringing.connect(pop_the_callers_card, dispatch_uid="telephony.live.screen_pop")
