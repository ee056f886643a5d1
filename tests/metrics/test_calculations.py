"""Each metric on a small hand-computed data set, with its edge cases and its filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from customers.models import Channel, Customer, Interaction, Interest, Offer, Purchase
from metrics import engine as calc
from metrics.periods import MetricFilters, Period
from metrics.registry import METRICS
from surveys.models import Survey
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    InterestFactory,
    OfferFactory,
    ProductFactory,
    PurchaseFactory,
    TicketFactory,
    UserFactory,
)
from tests.metrics.helpers import BEFORE_MARCH, IN_MARCH, MARCH, answer, march, survey
from tickets.models import Status, Ticket, TicketMessage

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def test_every_metric_says_no_data_on_an_empty_database() -> None:
    results = calc.compute_all(march())
    assert set(results) == set(METRICS)
    for name, result in results.items():
        assert result.value is None, name
        assert result.n == 0, name


def test_csat_judges_each_answer_against_its_own_surveys_threshold() -> None:
    five = survey(Survey.Kind.CSAT)  # 1-5, satisfied from 4
    ten = survey(Survey.Kind.CSAT, scale_min=1, scale_max=10)  # satisfied from 8
    for score in (5, 4, 3):
        answer(five, score)
    for score in (8, 7):
        answer(ten, score)
    answer(five, 5, at=BEFORE_MARCH)  # outside the period

    result = calc.compute_metric("csat", march())
    assert (result.n, result.value) == (5, pytest.approx(60.0))
    # Wilson for 3 of 5.
    assert result.ci_low == pytest.approx(23.07, abs=0.01)
    assert result.ci_high == pytest.approx(88.24, abs=0.01)
    mean = calc.compute_metric("csat_mean", march())
    # On 1-5: 5, 4, 3 and 8, 7 of 1-10 rescaled: 1 + 7*4/9, 1 + 6*4/9.
    expected = (5 + 4 + 3 + (1 + 28 / 9) + (1 + 24 / 9)) / 5
    assert mean.value == pytest.approx(expected)
    assert mean.n == 5 and mean.ci_low is not None


def test_csat_with_one_response() -> None:
    answer(survey(Survey.Kind.CSAT), 2)
    result = calc.compute_metric("csat", march())
    assert (result.value, result.n) == (0.0, 1)
    mean = calc.compute_metric("csat_mean", march())
    assert (mean.value, mean.n, mean.ci_low) == (2.0, 1, None)


def test_nps_counts_promoters_passives_and_detractors() -> None:
    nps = survey(Survey.Kind.NPS)
    for score in (10, 9, 9, 8, 7, 6, 0, 10):
        answer(nps, score)
    result = calc.compute_metric("nps", march())
    # 4 promoters, 2 passives, 2 detractors of 8: 50 - 25.
    assert (result.value, result.n) == (pytest.approx(25.0), 8)
    assert result.components["promoters"] == pytest.approx(50.0)
    assert result.components["passives"] == pytest.approx(25.0)
    assert result.components["detractors"] == pytest.approx(25.0)


@pytest.mark.parametrize(("scores", "expected"), [((9, 10, 10), 100.0), ((0, 3, 6), -100.0)])
def test_nps_all_promoters_or_all_detractors(scores: tuple[int, ...], expected: float) -> None:
    nps = survey(Survey.Kind.NPS)
    for score in scores:
        answer(nps, score)
    result = calc.compute_metric("nps", march())
    assert result.value == expected
    assert result.ci_low == result.ci_high == expected


def test_ces_turns_low_easy_surveys_so_that_seven_is_easy() -> None:
    high = survey(Survey.Kind.CES)  # 1-7, easy from 5 up
    low = survey(Survey.Kind.CES, easy_end=Survey.EasyEnd.LOW)  # easy from 3 down
    answer(high, 7)
    answer(high, 4)
    answer(low, 1)  # very easy: 7 on the oriented scale
    answer(low, 5)  # hard: 3
    mean = calc.compute_metric("ces", march())
    assert mean.value == pytest.approx((7 + 4 + 7 + 3) / 4)
    easy = calc.compute_metric("ces_easy", march())
    assert (easy.value, easy.n) == (pytest.approx(50.0), 4)


def _ticket(*, created: dt.datetime, resolve_after: dt.timedelta | None, **fields: object) -> None:
    ticket = TicketFactory.create(created_at=created, **fields)
    if resolve_after is not None:
        ticket.status = Status.RESOLVED
        ticket.resolved_at = created + resolve_after
        ticket.save()


def test_resolution_times_rate_and_first_contact_resolution() -> None:
    _ticket(created=IN_MARCH, resolve_after=2 * HOUR)
    _ticket(created=IN_MARCH, resolve_after=4 * HOUR, customer_contacts=2)
    _ticket(created=IN_MARCH, resolve_after=9 * HOUR)
    _ticket(created=IN_MARCH, resolve_after=None)

    average = calc.compute_metric("average_resolution_time", march())
    assert (average.value, average.n) == (pytest.approx(5.0), 3)
    median = calc.compute_metric("median_resolution_time", march())
    assert (median.value, median.n) == (pytest.approx(4.0), 3)
    fcr = calc.compute_metric("first_contact_resolution", march())
    assert (fcr.value, fcr.n) == (pytest.approx(200 / 3), 3)
    rate = calc.compute_metric("resolution_rate", march())
    assert (rate.value, rate.n) == (pytest.approx(75.0), 4)


def test_median_of_an_even_count_averages_the_two_middle_tickets() -> None:
    for hours in (1, 2, 6, 100):
        _ticket(created=IN_MARCH, resolve_after=hours * HOUR)
    assert calc.compute_metric("median_resolution_time", march()).value == pytest.approx(4.0)


def test_a_period_with_no_resolved_tickets_has_no_resolution_figures() -> None:
    _ticket(created=IN_MARCH, resolve_after=None)
    for name in ("average_resolution_time", "median_resolution_time", "first_contact_resolution"):
        assert calc.compute_metric(name, march()).value is None, name
    assert calc.compute_metric("resolution_rate", march()).value == 0.0


def test_first_response_time_in_minutes() -> None:
    for minutes in (10, 30):
        ticket = TicketFactory.create(created_at=IN_MARCH)
        ticket.first_response_at = IN_MARCH + dt.timedelta(minutes=minutes)
        ticket.save()
    TicketFactory.create(created_at=IN_MARCH)  # not answered yet
    result = calc.compute_metric("first_response_time", march())
    assert (result.value, result.n) == (pytest.approx(20.0), 2)


def _call(channel: str, *, wait: int | None, hang_up: int | None = None, **fields: object) -> None:
    InteractionFactory.create(
        channel=channel,
        started_at=IN_MARCH,
        answered_at=IN_MARCH + dt.timedelta(seconds=wait) if wait is not None else None,
        ended_at=IN_MARCH + dt.timedelta(seconds=(hang_up or wait or 0) + 300),
        **fields,
    )


def test_abandonment_and_waiting_time_by_channel() -> None:
    _call(Channel.PHONE, wait=20)
    _call(Channel.PHONE, wait=None, hang_up=60)  # abandoned after 60 + 300 s
    _call(Channel.CHAT, wait=40)
    _call(Channel.EMAIL, wait=3600)  # not a live channel: no abandonment
    _call(Channel.PHONE, wait=10, direction=Interaction.Direction.OUTBOUND)

    abandonment = calc.compute_metric("abandonment_rate", march())
    assert (abandonment.value, abandonment.n) == (pytest.approx(100 / 3), 3)
    by_channel = calc.split_metric("average_waiting_time", march(), "channel")
    assert by_channel[Channel.PHONE].value == pytest.approx((20 + 360) / 2)
    assert by_channel[Channel.CHAT].value == pytest.approx(40.0)
    assert by_channel[Channel.EMAIL].value == pytest.approx(3600.0)
    assert calc.compute_metric("average_waiting_time", march(channel=Channel.CHAT)).n == 1


def test_conversion_of_interests_and_offers() -> None:
    customer = CustomerFactory.create()
    purchase = PurchaseFactory.create(customer=customer, purchased_at=IN_MARCH)
    InterestFactory.create(customer=customer, occurred_at=IN_MARCH)
    InterestFactory.create(
        customer=customer,
        occurred_at=IN_MARCH,
        status=Interest.Status.CONVERTED,
        purchase=purchase,
        closed_at=IN_MARCH,
    )
    OfferFactory.create(customer=customer, offered_at=IN_MARCH)
    OfferFactory.create(
        customer=customer, offered_at=IN_MARCH, status=Offer.Status.ACCEPTED, responded_at=IN_MARCH
    )
    OfferFactory.create(
        customer=customer, offered_at=IN_MARCH, status=Offer.Status.DECLINED, responded_at=IN_MARCH
    )
    assert calc.compute_metric("interest_conversion_rate", march()).value == pytest.approx(50.0)
    offers = calc.compute_metric("offer_conversion_rate", march())
    assert (offers.value, offers.n) == (pytest.approx(100 / 3), 3)


def test_sentiment_shares_count_only_classified_comments() -> None:
    csat = survey(Survey.Kind.CSAT)
    for sentiment in ("positive", "positive", "negative", "neutral"):
        response = answer(csat, 5)
        response.comment, response.sentiment = "text", sentiment
        response.save()
    answer(csat, 4)  # no comment
    assert calc.compute_metric("sentiment_positive", march()).value == pytest.approx(50.0)
    assert calc.compute_metric("sentiment_negative", march()).n == 4


def test_sentiment_counts_the_customers_ticket_messages_beside_survey_comments() -> None:
    csat = survey(Survey.Kind.CSAT)
    for sentiment in ("positive", "negative"):
        response = answer(csat, 5)
        response.comment, response.sentiment = "text", sentiment
        response.save()
    operator = UserFactory.create()
    ticket = TicketFactory.create(created_at=IN_MARCH, assignee=operator)
    other = TicketFactory.create(created_at=IN_MARCH)

    def write(sentiment: str, *, on: Ticket = ticket, author: str = "customer", **kw: Any) -> None:
        TicketMessage.objects.create(
            ticket=on, author_kind=author, body="text", sentiment=sentiment, **kw
        )

    write("negative", created_at=IN_MARCH, channel=Channel.EMAIL)
    write("negative", on=other, created_at=IN_MARCH, channel=Channel.EMAIL)
    write("neutral", created_at=IN_MARCH, channel=Channel.CHAT)
    write("", created_at=IN_MARCH, channel=Channel.EMAIL)  # no new text: not counted
    write("positive", created_at=BEFORE_MARCH)  # another period
    write("positive", author="operator", created_at=IN_MARCH)  # not the customer's words
    negative = calc.compute_metric("sentiment_negative", march())
    assert (negative.value, negative.n) == (pytest.approx(60.0), 5)
    assert calc.compute_all(march())["sentiment_negative"] == negative
    # Split: a message by the channel it came by, the ticket's assignee as its operator.
    by_channel = calc.split_metric("sentiment_negative", march(), "channel")
    assert by_channel[Channel.EMAIL].n == 2 and by_channel[Channel.CHAT].n == 1
    by_operator = calc.split_all(["sentiment_negative"], march(), "operator")
    assert by_operator["sentiment_negative"][operator.pk].n == 2
    grouped = calc.GroupedFacts(march(), [march().period])
    assert grouped.split("sentiment_negative", "operator")[operator.pk].n == 2
    assert grouped.compute("sentiment_negative") == negative


def _buy(customer: Customer, at: dt.datetime, amount: str = "100.00", **fields: object) -> None:
    PurchaseFactory.create(
        customer=customer, purchased_at=at, amount=Decimal(amount), product=None, **fields
    )


def test_repeat_purchase_rate_counts_days_not_lines() -> None:
    twice, same_day, once = CustomerFactory.create_batch(3)
    _buy(twice, IN_MARCH)
    _buy(twice, IN_MARCH + dt.timedelta(days=3))
    _buy(same_day, IN_MARCH)
    _buy(same_day, IN_MARCH + dt.timedelta(minutes=5))
    _buy(once, IN_MARCH)
    _buy(once, BEFORE_MARCH)
    result = calc.compute_metric("repeat_purchase_rate", march())
    assert (result.value, result.n) == (pytest.approx(100 / 3), 3)


def test_churn_and_retention_over_a_year_window() -> None:
    year = dt.timedelta(days=365)
    start = MARCH.start_at
    # At the start: bought within the year before March 1.
    stays = CustomerFactory.create()
    _buy(stays, start - dt.timedelta(days=100))
    _buy(stays, IN_MARCH)
    lapses = CustomerFactory.create()  # last purchase falls out of the window during March
    _buy(lapses, start - year + dt.timedelta(days=5))
    quiet = CustomerFactory.create()  # still within the window at the end of March
    _buy(quiet, start - dt.timedelta(days=200))
    newcomer = CustomerFactory.create()
    _buy(newcomer, IN_MARCH)
    lost_long_ago = CustomerFactory.create()
    _buy(lost_long_ago, start - 2 * year)

    churn = calc.compute_metric("churn_rate", march())
    assert (churn.value, churn.n) == (pytest.approx(100 / 3), 3)
    retention = calc.compute_metric("retention_rate", march())
    # at end: stays, quiet, newcomer = 3; new = 1; start = 3: (3 - 1) / 3.
    assert retention.value == pytest.approx(200 / 3)
    assert retention.components["new"] == 1


def test_a_subscription_that_ended_unrenewed_in_the_period_is_churn() -> None:
    product = ProductFactory.create(subscription_months=1, warranty_months=0)
    subscriber = CustomerFactory.create()
    PurchaseFactory.create(customer=subscriber, product=product, purchased_at=BEFORE_MARCH)
    churn = calc.compute_metric("churn_rate", march())
    assert (churn.value, churn.n) == (100.0, 1)


def test_historical_clv_averages_revenue_and_known_margin() -> None:
    a, b = CustomerFactory.create_batch(2)
    costed = ProductFactory.create(price=Decimal("100"), cost=Decimal("60"))
    PurchaseFactory.create(customer=a, product=costed, amount=Decimal("100"), purchased_at=IN_MARCH)
    _buy(a, BEFORE_MARCH, "300.00")
    _buy(b, IN_MARCH, "200.00")
    _buy(b, IN_MARCH, "50.00", status=Purchase.Status.REFUNDED)
    result = calc.compute_metric("clv_historical", march())
    assert (result.value, result.n) == (pytest.approx(300.0), 2)
    assert result.components["average_margin"] == pytest.approx(40.0)


def test_filters_cut_by_operator_segment_and_personalisation() -> None:
    csat = survey(Survey.Kind.CSAT)
    olga = UserFactory.create(username="olga-m")
    business = CustomerFactory.create(segment=Customer.Segment.SMALL_BUSINESS)
    answer(csat, 5, operator=olga, personalized=True, customer=business)
    answer(csat, 1, personalized=False, channel=Channel.EMAIL)
    assert calc.compute_metric("csat", march(operator_id=olga.pk)).value == 100.0
    assert calc.compute_metric("csat", march(segment="small_business")).n == 1
    assert calc.compute_metric("csat", march(personalized=False)).value == 0.0
    assert calc.compute_metric("csat", march(channel=Channel.EMAIL)).n == 1
    split = calc.split_metric("csat", march(), "personalized")
    assert split[True].value == 100.0 and split[False].value == 0.0


def test_category_filter_follows_the_purchase_or_the_tickets_purchase() -> None:
    csat = survey(Survey.Kind.CSAT)
    purchase = PurchaseFactory.create()
    answer(csat, 5, purchase=purchase)
    answer(csat, 1)
    assert purchase.product is not None
    category = purchase.product.category_id
    assert calc.compute_metric("csat", march(category_id=category)).n == 1


def test_periods_are_whole_days_in_the_site_time_zone() -> None:
    csat = survey(Survey.Kind.CSAT)
    # 23:30 on March 31 in Moscow is 20:30 UTC: inside March.
    late = MARCH.end_before - dt.timedelta(minutes=30)
    answer(csat, 5, at=late)
    answer(csat, 5, at=MARCH.end_before)
    assert calc.compute_metric("csat", march()).n == 1
    april = MetricFilters(period=Period(start=dt.date(2025, 4, 1), end=dt.date(2025, 4, 1)))
    assert calc.compute_metric("csat", april).n == 1
