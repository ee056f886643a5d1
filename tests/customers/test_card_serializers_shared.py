"""The card's JSON form through one bound serializer per section and thread
(customers.card.CardSection.serialize): the same as a new serializer for every call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from customers.card import build_card
from customers.models import Customer
from tests.card_fixtures import build_history
from tests.factories import CustomerFactory, OfferFactory

pytestmark = pytest.mark.django_db


def _fresh(card: Any) -> dict[str, Any]:
    context = {"customer": card.customer, "now": card.now, "request": None}
    return {s.key: s.section.serializer(s.data, context=context).data for s in card.sections}


def test_shared_serializers_give_what_a_new_serializer_gives() -> None:
    full, few = CustomerFactory.create_batch(2)
    build_history(full, purchases=12, tickets=6, interactions=15)
    OfferFactory.create_batch(3, customer=full)
    empty: Customer = CustomerFactory.create()
    boss = User.objects.create_superuser("serializer-boss", password="x")
    now = timezone.now()
    cards = [build_card(c, user=boss, now=now) for c in (full, few, empty, full)]
    wanted = [_fresh(card) for card in cards]
    # In turn on one thread: nothing of one customer's card stays for the next.
    assert [card.serialize() for card in cards] == wanted
    assert wanted[0] != wanted[2]
    # On several threads at once, each with its own serializers.
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda card: card.serialize(), cards * 5))
    assert got == wanted * 5
