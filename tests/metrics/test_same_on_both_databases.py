"""PostgreSQL and SQLite give the same figures: a seeded data set's every metric, splits and
medians are compared with figures recorded once (CI runs this file on both databases)."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.dates import site_day_start
from customers.models import Channel, Customer, Interest, Offer
from metrics.engine import compute_all, split_metric
from metrics.periods import MetricFilters, Period
from metrics.registry import METRICS
from surveys.models import Survey
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    InterestFactory,
    OfferFactory,
    PurchaseFactory,
    TicketFactory,
    UserFactory,
)
from tests.metrics.helpers import answer
from tickets.models import Status, TicketMessage

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).with_name("golden_figures.json")
PERIOD = Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
SEED = 20250301


def _moment(rng: random.Random, start: dt.date, days: int) -> dt.datetime:
    return site_day_start(start) + dt.timedelta(seconds=rng.randrange(days * 86400))


def _build() -> None:
    rng = random.Random(SEED)
    operators = [UserFactory.create(username=f"op{i}") for i in range(3)]
    customers = [
        CustomerFactory.create(segment=rng.choice(list(Customer.Segment.values))) for _ in range(25)
    ]
    surveys = {
        "csat5": Survey.objects.create(kind=Survey.Kind.CSAT),
        "csat10": Survey.objects.create(kind=Survey.Kind.CSAT, scale_min=1, scale_max=10),
        "nps": Survey.objects.create(kind=Survey.Kind.NPS),
        "ces": Survey.objects.create(kind=Survey.Kind.CES),
        "ces_low": Survey.objects.create(kind=Survey.Kind.CES, easy_end=Survey.EasyEnd.LOW),
    }
    start = PERIOD.start - dt.timedelta(days=20)
    for _ in range(120):
        key = rng.choice(list(surveys))
        s = surveys[key]
        response = answer(
            s,
            rng.randint(s.scale_min, s.scale_max),
            at=_moment(rng, start, 60),
            customer=rng.choice(customers),
            operator=rng.choice([*operators, None]),
            channel=rng.choice([Channel.PHONE, Channel.EMAIL, Channel.CHAT]),
            personalized=rng.random() < 0.5,
        )
        if rng.random() < 0.4:
            response.comment = "comment"
            response.sentiment = rng.choice(["positive", "neutral", "negative"])
            response.save()
    tickets = []
    for _ in range(40):
        created = _moment(rng, start, 60)
        ticket = TicketFactory.create(
            customer=rng.choice(customers),
            created_at=created,
            assignee=rng.choice(operators),
            channel=rng.choice([Channel.PHONE, Channel.EMAIL]),
            personalized=rng.random() < 0.5,
            customer_contacts=rng.choice([1, 1, 2, 3]),
        )
        if rng.random() < 0.8:
            ticket.first_response_at = created + dt.timedelta(seconds=rng.randrange(60, 20000))
        if rng.random() < 0.7:
            ticket.status = Status.RESOLVED
            ticket.resolved_at = created + dt.timedelta(seconds=rng.randrange(600, 400000))
        ticket.save()
        tickets.append(ticket)
    interactions = []
    for _ in range(60):
        started = _moment(rng, start, 60)
        answered = rng.random() < 0.75
        wait = dt.timedelta(seconds=rng.randrange(1, 600))
        interaction = InteractionFactory.create(
            customer=rng.choice(customers),
            channel=rng.choice([Channel.PHONE, Channel.CHAT, Channel.EMAIL]),
            started_at=started,
            answered_at=started + wait if answered else None,
            ended_at=started + wait + dt.timedelta(seconds=rng.randrange(0, 900)),
            operator=rng.choice(operators) if answered else None,
            personalized=rng.random() < 0.5,
        )
        interactions.append(interaction)
    for _ in range(30):
        accepted = rng.random() < 0.4
        offered = _moment(rng, start, 60)
        OfferFactory.create(
            customer=rng.choice(customers),
            offered_at=offered,
            operator=rng.choice(operators),
            interaction=rng.choice(interactions),
            status=Offer.Status.ACCEPTED if accepted else Offer.Status.OFFERED,
            responded_at=offered if accepted else None,
        )
    for _ in range(20):
        occurred = _moment(rng, start, 60)
        customer = rng.choice(customers)
        if rng.random() < 0.3:
            bought = PurchaseFactory.create(customer=customer, purchased_at=occurred)
            InterestFactory.create(
                customer=customer,
                occurred_at=occurred,
                status=Interest.Status.CONVERTED,
                purchase=bought,
                closed_at=occurred,
            )
        else:
            InterestFactory.create(customer=customer, occurred_at=occurred)
    for customer in customers:
        for _ in range(rng.randint(0, 5)):
            PurchaseFactory.create(
                customer=customer,
                product=None,
                amount=Decimal(rng.randrange(100, 10000)),
                purchased_at=_moment(rng, PERIOD.start - dt.timedelta(days=500), 530),
            )
    # The customers' messages on the tickets, most classified: the sentiment counts them
    # beside the survey comments. A generator of their own leaves the other facts as recorded.
    voices = random.Random(SEED + 1)
    for ticket in tickets:
        for _ in range(voices.randint(0, 3)):
            channel = voices.choice([Channel.EMAIL, Channel.CHAT, ""])
            sentiment = voices.choice(["positive", "neutral", "negative", ""])
            TicketMessage.objects.create(
                ticket=ticket,
                author_kind=TicketMessage.Author.CUSTOMER,
                body="text",
                # Unlabelled: an email whose new text was empty (other channels get labelled).
                channel=channel if sentiment else Channel.EMAIL,
                sentiment=sentiment,
                created_at=_moment(voices, start, 60),
            )


def _figures() -> dict[str, Any]:
    filters = MetricFilters(period=PERIOD)
    out: dict[str, Any] = {
        name: [estimate.value, estimate.n, estimate.ci_low, estimate.ci_high]
        for name, estimate in compute_all(filters).items()
    }
    for name in (
        "csat",
        "nps",
        "median_resolution_time",
        "average_waiting_time",
        "sentiment_negative",
    ):
        for dimension in ("channel", "personalized"):
            for key, estimate in split_metric(name, filters, dimension).items():
                out[f"{name}/{dimension}/{key}"] = [estimate.value, estimate.n]
    return out


def test_figures_match_the_recorded_ones() -> None:
    _build()
    figures = _figures()
    if not GOLDEN.exists():  # first run: record (on SQLite), then commit the file
        GOLDEN.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(GOLDEN.read_text())
    assert set(recorded) == set(figures)
    for key, expected in recorded.items():
        got = figures[key]
        assert len(got) == len(expected), key
        for actual, wanted in zip(got, expected, strict=True):
            if wanted is None:
                assert actual is None, key
            else:
                assert actual == pytest.approx(wanted, rel=1e-9), key
    assert set(METRICS) <= set(figures)
