"""The card's row serializers (`PlainRowSerializer`) answer what DRF's own
`Serializer.to_representation` answers for the same rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from core.api.serializers import PlainRowSerializer
from customers.card import customer_card
from customers.models import Customer, Purchase
from tests.card_fixtures import build_history
from tests.factories import (
    CustomerFactory,
    OfferFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
    SLAPolicyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
)
from tickets.services import open_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(operator: User) -> Customer:
    customer = CustomerFactory.create()
    build_history(customer, purchases=12, tickets=8, interactions=12)
    SLAPolicyFactory.create()
    open_ticket(customer=customer, subject="With SLA", channel="email", body="Help")
    purchase = PurchaseFactory.create(
        customer=customer, product=None, amount=Decimal("10.005"), quantity=2
    )
    Purchase.objects.filter(pk=purchase.pk).update(
        support_ends_on=timezone.localdate() + dt.timedelta(days=3)
    )
    ReminderFactory.create(purchase=purchase, sent_at=timezone.now(), delivery_status="sent")
    OfferFactory.create(customer=customer, product=ProductFactory.create(), operator=operator)
    answered = SurveyInvitationFactory.create(customer=customer)
    SurveyResponseFactory.create(
        invitation=answered, comment="Quick and kind", sentiment="positive"
    )
    SurveyInvitationFactory.create(
        customer=customer,
        delivery_channel="email",
        expires_at=timezone.now() + dt.timedelta(days=5),
    )
    return customer


def test_every_card_section_answers_as_drf_would(customer: Customer, operator: User) -> None:
    card = customer_card(customer.pk, user=operator, now=timezone.now())
    context = {"customer": card.customer, "now": card.now, "request": None}
    plain_sections = 0
    for section in card.sections:
        serializer = section.section.serializer(context=context)
        ours = serializer.to_representation(section.data)
        assert ours == _deep(serializer, section.data), section.key
        plain_sections += any(
            isinstance(getattr(f, "child", f), PlainRowSerializer)
            for f in serializer.fields.values()  # type: ignore[attr-defined]
        )
    assert plain_sections >= 4  # contacts, tickets, purchases, interests, offers, timeline
    data = {section.key: section.data for section in card.sections}
    satisfaction = data["satisfaction"]
    # Each row serializer answered at least one row.
    assert satisfaction.answers and satisfaction.waiting and satisfaction.value
    assert data["history"]["entries"] and data["offers"]["recommendations"]


def _deep(serializer: serializers.BaseSerializer, data: Any) -> Any:
    """DRF's answer, every nested serializer answered by DRF's own code too."""
    if isinstance(serializer, serializers.ListSerializer):
        return [_deep(serializer.child, item) for item in data]  # type: ignore[arg-type]
    if not isinstance(serializer, serializers.Serializer):
        return serializer.to_representation(data)
    if type(serializer).to_representation not in (
        serializers.Serializer.to_representation,
        PlainRowSerializer.to_representation,
    ):
        return serializer.to_representation(data)  # a section's own (identity reads context)
    answer: dict[str | None, Any] = {}
    for field in serializer._readable_fields:
        try:
            attribute = field.get_attribute(data)
        except serializers.SkipField:
            continue
        if attribute is None:
            answer[field.field_name] = None
        elif isinstance(field, serializers.BaseSerializer):
            answer[field.field_name] = _deep(field, attribute)
        else:
            answer[field.field_name] = field.to_representation(attribute)
    return answer


class _Row(PlainRowSerializer):
    name = serializers.CharField(source="person.name")
    missing = serializers.CharField(source="person.nickname", default="none")
    maybe = serializers.CharField(source="person.middle", allow_null=True)
    optional = serializers.CharField(source="person.title", required=False)
    shout = serializers.CharField(source="person.shout")


class _Person:
    def __init__(self, name: str) -> None:
        self.name = name

    def shout(self) -> str:
        return self.name.upper()


def test_a_missing_attribute_is_decided_as_drf_decides() -> None:
    row = {"person": _Person("anna")}

    answer = _Row().to_representation(row)

    assert answer == {"name": "anna", "missing": "none", "maybe": None, "shout": "ANNA"}
    assert answer == _deep(_Row(), row)
