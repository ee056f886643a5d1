"""The daily rollups: the dashboard reads covered days from them and gives the figures of the
facts; every kind of write to a rolled-up day uncovers it until the job rolls it again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from core.dates import site_day_start, site_today
from crm.demo.bulk import generate
from crm.jobs import run_job
from customers.models import Channel, Customer, Interaction, Interest, Offer, ProductCategory
from metrics import rollup_days, rollups, selectors
from metrics.engine import GroupedFacts, compute_all, compute_metric, split_metric
from metrics.models import ROLLUP_AGGREGATES, FactRollup, FactRollupDay
from metrics.periods import MetricFilters, Period
from metrics.registry import METRICS, families
from metrics.rollup_invalidation import WATCHES
from metrics.stats import Estimate
from surveys.models import Survey, SurveyResponse
from surveys.services import relabel_sentiment
from tests.factories import PurchaseFactory, UserFactory
from tests.metrics.helpers import answer
from tests.metrics.test_dashboard_in_one_pass import _same, _same_split
from tests.metrics.test_same_on_both_databases import PERIOD, _build
from tickets.models import Status, Ticket, TicketMessage

pytestmark = pytest.mark.django_db
ZONE = timezone.get_default_timezone()
# A day of the period, long rolled up (the tests run after March 2025).
DAY = dt.date(2025, 3, 12)


def _dashboard_equals_facts(filters: MetricFilters) -> None:
    """Every figure of the dashboard equals the per-metric queries, which read only facts."""
    figures = selectors.dashboard(filters)
    current = compute_all(filters)
    previous = compute_all(filters.with_period(filters.period.previous()))
    for kpi in figures.kpis:
        name = kpi.definition.name
        _same(kpi.current, current[name], name)
        _same(kpi.previous, previous[name], f"{name} (previous)")
    unflagged = filters.with_personalized(None)
    for row in figures.cohorts:
        name = row.definition.name
        split = split_metric(name, unflagged, "personalized")
        _same(row.personalised, split.get(True, Estimate(None, 0)), f"{name}/yes")
        _same(row.not_personalised, split.get(False, Estimate(None, 0)), f"{name}/no")
    for table, dimension in ((figures.operators, "operator"), (figures.channels, "channel")):
        for column in table.columns:
            wanted = split_metric(column.name, filters, dimension)
            got = {key: cells[column.name] for key, _label, cells in table.rows}
            got = {key: estimate for key, estimate in got.items() if estimate.n}
            expected = {key: e for key, e in wanted.items() if key is not None and e.n}
            _same_split(got, expected, f"{column.name}/{dimension}")


def _covered(family: str, day: dt.date) -> bool:
    schema = rollups.schema(families()[family])
    return day in rollup_days.covered_days({family: schema}, day, day)[family]


def _roll() -> dict[str, Any]:
    return run_job("rollups")


@pytest.fixture
def rolled() -> None:
    _build()
    summary = _roll()
    assert all(summary[family] > 0 for family in families())


FILTERS = [
    MetricFilters(period=PERIOD),
    MetricFilters(period=PERIOD, personalized=True),
    MetricFilters(period=PERIOD, channel=Channel.PHONE),
    MetricFilters(period=PERIOD, personalized=False, channel=Channel.CHAT),
    MetricFilters(period=PERIOD, segment=Customer.Segment.ENTERPRISE),
]


@pytest.mark.parametrize(
    "filters", FILTERS, ids=["all", "personalised", "phone", "chat-not", "segment"]
)
def test_dashboard_from_rollups_equals_the_facts(rolled: None, filters: MetricFilters) -> None:
    assert _covered("responses", DAY) and _covered("tickets_created", dt.date(2025, 2, 20))
    _dashboard_equals_facts(filters)


def test_dashboard_filtered_by_operator_equals_the_facts(rolled: None) -> None:
    operator = UserFactory._meta.model.objects.get(username="op1")
    _dashboard_equals_facts(MetricFilters(period=PERIOD, operator_id=operator.pk))


def test_the_rollup_is_what_is_read_and_category_and_segment_bypass_it(rolled: None) -> None:
    # A write without signals is invisible to the rollup: only a reader of the rollup misses it.
    Ticket.objects.filter(resolved_at__isnull=False).update(customer_contacts=7)
    plain = MetricFilters(period=PERIOD)
    fcr = selectors.dashboard(plain).kpis
    stale = next(k for k in fcr if k.definition.name == "first_contact_resolution")
    # compute_all reads through the same rollups; the metric's own query reads the facts.
    assert stale.current.value != compute_metric("first_contact_resolution", plain).value
    assert (
        stale.current.value
        == compute_all(plain, ["first_contact_resolution"])["first_contact_resolution"].value
    )
    category = ProductCategory.objects.create(name="Kettles", slug="kettles")
    for filters in (
        MetricFilters(period=PERIOD, segment=Customer.Segment.ENTERPRISE),
        MetricFilters(period=PERIOD, category_id=category.pk),
    ):
        _dashboard_equals_facts(filters)


def test_the_job_is_idempotent(rolled: None) -> None:
    rows = sorted(
        FactRollup.objects.values_list("family", "day", "channel", "operator_id", "a0", "a5"),
        key=str,
    )
    summary = _roll()
    assert all(days == 0 for family, days in summary.items() if family != "day")
    again = sorted(
        FactRollup.objects.values_list("family", "day", "channel", "operator_id", "a0", "a5"),
        key=str,
    )
    assert again == rows


def test_today_and_yesterday_are_read_from_the_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    _build()
    today = dt.date(2025, 3, 20)
    noon = timezone.make_aware(dt.datetime(2025, 3, 20, 12), ZONE)
    monkeypatch.setattr(timezone, "now", lambda: noon)
    run_job("rollups", on=today)
    recent = FactRollupDay.objects.filter(day__gte=today - dt.timedelta(days=1))
    assert not recent.filter(rolled_version__isnull=False).exists()
    assert FactRollupDay.objects.filter(
        day=today - dt.timedelta(days=2), rolled_version__isnull=False
    ).exists()
    # A write to today bumps nothing, and the dashboard still counts it (from the facts).
    markers = list(recent.values_list("family", "day", "version"))
    answer(Survey.objects.get(kind=Survey.Kind.NPS), 10, at=noon - dt.timedelta(hours=1))
    assert list(recent.values_list("family", "day", "version")) == markers
    _dashboard_equals_facts(MetricFilters(period=PERIOD))


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return site_day_start(day) + dt.timedelta(hours=hour)


def _day_of(instant: dt.datetime) -> dt.date:
    return timezone.localtime(instant, ZONE).date()


def _resolve_a_ticket() -> list[tuple[str, dt.date]]:
    ticket = Ticket.objects.filter(resolved_at__isnull=True, created_at__lt=_at(DAY)).first()
    assert ticket is not None
    ticket.status = Status.RESOLVED
    ticket.resolved_at = _at(DAY)
    ticket.save()
    return [("tickets_created", _day_of(ticket.created_at)), ("tickets_resolved", DAY)]


def _reopen_a_ticket() -> list[tuple[str, dt.date]]:
    ticket = Ticket.objects.filter(status=Status.RESOLVED).order_by("pk").first()
    assert ticket is not None and ticket.resolved_at is not None
    resolved_day = _day_of(ticket.resolved_at)
    ticket.status = Status.OPEN
    ticket.resolved_at = None
    ticket.save()
    return [("tickets_created", _day_of(ticket.created_at)), ("tickets_resolved", resolved_day)]


def _message_days(ticket: Ticket) -> list[tuple[str, dt.date]]:
    said = ticket.messages.filter(author_kind=TicketMessage.Author.CUSTOMER).exclude(sentiment="")
    return [("messages", _day_of(message.created_at)) for message in said]


def _reassign_a_ticket() -> list[tuple[str, dt.date]]:
    ticket = (
        Ticket.objects.filter(status=Status.RESOLVED, messages__sentiment="negative")
        .order_by("-pk")
        .first()
    )
    assert ticket is not None and ticket.resolved_at is not None
    messages = _message_days(ticket)
    ticket.assignee = UserFactory.create(username="newcomer")
    ticket.save()
    return [
        ("tickets_created", _day_of(ticket.created_at)),
        ("tickets_resolved", _day_of(ticket.resolved_at)),
        *messages,
    ]


def _receive_a_message() -> list[tuple[str, dt.date]]:
    ticket = Ticket.objects.order_by("pk").first()
    assert ticket is not None
    TicketMessage.objects.create(
        ticket=ticket,
        author_kind=TicketMessage.Author.CUSTOMER,
        body="Still broken.",
        channel=Channel.EMAIL,
        sentiment="negative",
        created_at=_at(DAY),
    )
    return [("messages", DAY)]


def _relabel_a_message() -> list[tuple[str, dt.date]]:
    message = TicketMessage.objects.filter(sentiment="positive").order_by("pk").first()
    assert message is not None
    message.sentiment = "negative"
    message.save(update_fields=["sentiment"])
    return [("messages", _day_of(message.created_at))]


def _delete_a_ticket_with_messages() -> list[tuple[str, dt.date]]:
    ticket = Ticket.objects.filter(messages__sentiment="neutral").order_by("pk").first()
    assert ticket is not None
    days = _message_days(ticket)
    ticket.delete()
    return days


def _answer_a_survey() -> list[tuple[str, dt.date]]:
    answer(Survey.objects.get(kind=Survey.Kind.NPS), 2, at=_at(DAY), channel=Channel.PHONE)
    return [("responses", DAY)]


def _change_a_threshold() -> list[tuple[str, dt.date]]:
    survey = Survey.objects.get(kind=Survey.Kind.CSAT, scale_max=5)
    survey.satisfied_threshold = 3
    survey.save()
    responses = SurveyResponse.objects.filter(invitation__survey=survey)
    return [("responses", _day_of(r.answered_at)) for r in responses]


def _move_an_invitation() -> list[tuple[str, dt.date]]:
    response = SurveyResponse.objects.order_by("pk").first()
    assert response is not None
    invitation = response.invitation
    invitation.channel = Channel.EMAIL if invitation.channel != Channel.EMAIL else Channel.CHAT
    invitation.save()
    return [("responses", _day_of(response.answered_at))]


def _relabel_comments() -> list[tuple[str, dt.date]]:
    commented = SurveyResponse.objects.exclude(comment="").order_by("pk")
    SurveyResponse.objects.filter(pk__in=[r.pk for r in commented]).update(
        comment="Terrible, awful, I am angry"
    )
    before = dict(commented.values_list("pk", "sentiment"))
    relabel_sentiment(responses=SurveyResponse.objects.filter(pk__in=list(before)))
    changed = [r for r in commented.all() if r.sentiment != before[r.pk]]
    assert changed
    return [("responses", _day_of(r.answered_at)) for r in changed]


def _answer_a_call() -> list[tuple[str, dt.date]]:
    call = Interaction.objects.filter(answered_at__isnull=True).order_by("pk").first()
    assert call is not None
    call.answered_at = call.started_at + dt.timedelta(seconds=5)
    call.save()
    return [("inbound", _day_of(call.started_at))]


def _move_a_call_with_offers() -> list[tuple[str, dt.date]]:
    offer = Offer.objects.filter(interaction__isnull=False).order_by("pk").first()
    assert offer is not None and offer.interaction is not None
    interaction = offer.interaction
    interaction.personalized = not interaction.personalized
    interaction.save()
    return [("offer_conversion_rate", _day_of(offer.offered_at))]


def _delete_a_call_with_offers() -> list[tuple[str, dt.date]]:
    offer = Offer.objects.filter(interaction__isnull=False).order_by("-pk").first()
    assert offer is not None and offer.interaction is not None
    interaction = offer.interaction
    interaction.delete()
    return [
        ("offer_conversion_rate", _day_of(offer.offered_at)),
        ("inbound", _day_of(interaction.started_at)),
    ]


def _accept_an_offer() -> list[tuple[str, dt.date]]:
    offer = Offer.objects.filter(status=Offer.Status.OFFERED).order_by("pk").first()
    assert offer is not None
    offer.status = Offer.Status.ACCEPTED
    offer.responded_at = offer.offered_at
    offer.save()
    return [("offer_conversion_rate", _day_of(offer.offered_at))]


def _overwrite_an_offer_by_its_key() -> list[tuple[str, dt.date]]:
    offer = Offer.objects.filter(status=Offer.Status.OFFERED).order_by("-pk").first()
    assert offer is not None
    # Built, not loaded, with the new values: what the row held is unknown until read.
    fields = {field.attname: getattr(offer, field.attname) for field in Offer._meta.concrete_fields}
    fields |= {"status": Offer.Status.DECLINED, "responded_at": offer.offered_at}
    Offer(**fields).save()
    return [("offer_conversion_rate", _day_of(offer.offered_at))]


def _convert_an_interest() -> list[tuple[str, dt.date]]:
    interest = Interest.objects.filter(status=Interest.Status.OPEN).order_by("pk").first()
    assert interest is not None
    interest.status = Interest.Status.CONVERTED
    interest.closed_at = interest.occurred_at
    interest.purchase = PurchaseFactory.create(customer=interest.customer)
    interest.save()
    return [("interest_conversion_rate", _day_of(interest.occurred_at))]


def _delete_a_response_and_an_offer() -> list[tuple[str, dt.date]]:
    response = SurveyResponse.objects.order_by("-pk").first()
    offer = Offer.objects.order_by("pk").first()
    assert response is not None and offer is not None
    response.delete()
    offer.delete()
    return [
        ("responses", _day_of(response.answered_at)),
        ("offer_conversion_rate", _day_of(offer.offered_at)),
    ]


def _delete_an_operator() -> list[tuple[str, dt.date]]:
    operator = UserFactory._meta.model.objects.get(username="op2")
    days = [
        (family, day)
        for family, day in FactRollup.objects.filter(operator_id=operator.pk).values_list(
            "family", "day"
        )
    ]
    operator.delete()
    return days


WRITES: dict[str, Callable[[], list[tuple[str, dt.date]]]] = {
    "ticket resolved": _resolve_a_ticket,
    "ticket reopened": _reopen_a_ticket,
    "ticket reassigned": _reassign_a_ticket,
    "message received": _receive_a_message,
    "message relabelled": _relabel_a_message,
    "ticket with messages deleted": _delete_a_ticket_with_messages,
    "response added": _answer_a_survey,
    "threshold changed": _change_a_threshold,
    "invitation moved": _move_an_invitation,
    "comments relabelled": _relabel_comments,
    "call answered": _answer_a_call,
    "call with offers moved": _move_a_call_with_offers,
    "call with offers deleted": _delete_a_call_with_offers,
    "offer accepted": _accept_an_offer,
    "offer overwritten": _overwrite_an_offer_by_its_key,
    "interest converted": _convert_an_interest,
    "deletes": _delete_a_response_and_an_offer,
    "operator deleted": _delete_an_operator,
}


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
def test_a_write_uncovers_its_days_until_the_job_rolls_them_again(rolled: None, write: str) -> None:
    touched = set(WRITES[write]())
    assert touched
    for family, day in touched:
        assert not _covered(family, day), (family, day)
    _dashboard_equals_facts(MetricFilters(period=PERIOD))
    summary = _roll()
    for family in {family for family, _day in touched}:
        assert summary[family] >= 1
    assert all(_covered(family, day) for family, day in touched)
    _dashboard_equals_facts(MetricFilters(period=PERIOD))
    _dashboard_equals_facts(MetricFilters(period=PERIOD, channel=Channel.EMAIL))


def test_a_write_between_reading_versions_and_facts_leaves_the_day_uncovered(
    rolled: None,
) -> None:
    family = "tickets_resolved"
    versions = rollup_days.read_versions(family, DAY, DAY)
    _resolve_a_ticket()  # lands after the versions were read (seen by the facts or not)
    rows = rollups.compute(family, DAY, DAY)
    rollups.store(family, rows, versions)
    assert not _covered(family, DAY)
    _dashboard_equals_facts(MetricFilters(period=PERIOD))


def test_a_write_the_facts_query_missed_leaves_the_day_uncovered(rolled: None) -> None:
    family = "responses"
    versions = rollup_days.read_versions(family, DAY, DAY)
    rows = rollups.compute(family, DAY, DAY)
    _answer_a_survey()  # committed after the job's fact query: its rows lack the answer
    rollups.store(family, rows, versions)
    assert not _covered(family, DAY)
    _dashboard_equals_facts(MetricFilters(period=PERIOD))
    assert _roll()[family] == 1
    assert _covered(family, DAY)


def test_a_rollup_of_another_schema_is_not_read(rolled: None) -> None:
    FactRollupDay.objects.filter(family="inbound", day=DAY).update(schema="made by older code")
    FactRollup.objects.filter(family="inbound", day=DAY).update(a0=None, a1=None)
    assert not _covered("inbound", DAY)
    _dashboard_equals_facts(MetricFilters(period=PERIOD))
    assert _roll()["inbound"] == 1
    assert _covered("inbound", DAY)


def test_the_dashboard_over_rollups_is_a_bounded_number_of_queries(
    rolled: None, django_assert_max_num_queries: Any
) -> None:
    # The dashboard's fixed count over the facts (tests/metrics/test_dashboard_in_one_pass:
    # 14 on PostgreSQL, 16 on SQLite), plus one rollup query per family, the customer
    # days' markers and the second query of their rollup (its day totals and its earlier-day
    # points apart, metrics.customer_rollup); the fact queries stay, for the uncovered days
    # of the span (none here). The median's sort becomes three reads: its histogram, the
    # tickets of the span's days before the first fact (uncovered) and the middle tickets
    # (metrics.resolution_histogram). SQLite cannot join the middles' reads into one: up to
    # two per period and cohort, where it sorted three times.
    facts = 14 if connection.vendor == "postgresql" else 16
    median = 2 if connection.vendor == "postgresql" else 2 + 2 * 4 - 3
    with django_assert_max_num_queries(facts + len(families()) + 2 + median):
        selectors.dashboard(MetricFilters(period=PERIOD))


def test_every_family_is_watched_on_the_rows_and_time_it_reads() -> None:
    watched = {
        watch.family: (model, watch) for model, watches in WATCHES.items() for watch in watches
    }
    for family, members in families().items():
        model, watch = watched[family]
        fact = members[0][1]
        assert fact.time_field == watch.time_field, family
        base = fact.base if fact.family and fact.base is not None else fact.source
        assert base(MetricFilters(period=PERIOD)).model is model, family
        assert {name for name, _fact in members} <= set(METRICS)
        assert len(rollups.columns(members)) <= ROLLUP_AGGREGATES, family


def test_slices_on_rollup_columns_filter_the_same_lookups_as_the_facts() -> None:
    for family, members in families().items():
        fact = members[0][1]
        for dimension in ("channel", "operator"):
            if dimension in fact.filter_paths:
                assert fact.filter_paths[dimension] == fact.dimension_paths[dimension], family
        assert rollups.applies(members, MetricFilters(period=PERIOD, channel=Channel.PHONE))
        segmented = MetricFilters(period=PERIOD, segment=Customer.Segment.ENTERPRISE)
        assert rollups.applies(members, segmented) == ("segment" not in fact.filter_paths)


def test_covered_days_skip_the_fact_scan_of_them(rolled: None) -> None:
    outside = rollups.facts_outside(
        "created_at", {PERIOD.start + dt.timedelta(days=i) for i in range(10)}, PERIOD
    )
    assert outside is not None
    inside = Ticket.objects.filter(created_at__gte=site_day_start(PERIOD.start)).filter(outside)
    assert all(_day_of(t.created_at) >= PERIOD.start + dt.timedelta(days=10) for t in inside)
    assert rollups.facts_outside("created_at", set(), PERIOD) is None


@pytest.mark.parametrize(
    "other",
    [Period(dt.date(2025, 2, 10), dt.date(2025, 2, 15)), Period(dt.date(2025, 3, 10), DAY)],
    ids=["apart", "overlapping"],
)
def test_any_periods_read_from_rollups_equal_the_facts(rolled: None, other: Period) -> None:
    periods = [PERIOD, other]
    facts = GroupedFacts(MetricFilters(period=PERIOD), periods)
    for j, period in enumerate(periods):
        wanted = compute_all(MetricFilters(period=period))
        for name, definition in METRICS.items():
            if definition.fact is not None:
                _same(facts.compute(name, period=j), wanted[name], f"{name} {period}")


def test_rows_written_in_bulk_uncover_their_days() -> None:
    generate(customers=4, seed=3, batch_size=2)  # COPY or bulk_create: no model signals
    today = site_today()
    written = {
        ("tickets_created", _day_of(at))
        for at in Ticket.objects.values_list("created_at", flat=True)
        if _day_of(at) < today
    } | {
        ("inbound", _day_of(at))
        for at in Interaction.objects.filter(
            kind=Interaction.Kind.CONTACT, direction=Interaction.Direction.INBOUND
        ).values_list("started_at", flat=True)
        if _day_of(at) < today
    }
    assert written
    markers = set(FactRollupDay.objects.values_list("family", "day"))
    assert written <= markers
    assert not FactRollupDay.objects.filter(rolled_version__isnull=False).exists()


@pytest.mark.parametrize(
    ("name", "sliced"),
    [
        ("channel", {"channel": Channel.PHONE}),
        ("operator", {"operator_id": 1}),
        ("category", {"category_id": 1}),
        ("segment", {"segment": "x"}),
    ],
    ids=["channel", "operator", "category", "segment"],
)
def test_filter_paths_name_exactly_the_slices_a_fact_metric_applies(
    name: str, sliced: dict[str, Any]
) -> None:
    # The rollup trusts filter_paths to know which slices change a family's rows.
    plain = MetricFilters(period=PERIOD)
    for metric, definition in METRICS.items():
        fact = definition.fact
        if fact is None:
            continue
        changed = str(fact.source(plain).query) != str(
            fact.source(MetricFilters(period=PERIOD, **sliced)).query
        )
        assert changed == (name in fact.filter_paths), (metric, name)


def test_the_families_statements_compile_once_and_serve_other_days(
    rolled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each family's sums over its rollup and its facts of the uncovered days are compiled
    once per shape (customers.selectors.fixed_rows: the periods' and runs' days are its
    inputs); read again for other days of the same shape, they give the figures of the
    statements built afresh for those days."""
    from customers import selectors as statements

    FactRollupDay.objects.filter(day__in=[DAY, DAY + dt.timedelta(days=1)]).delete()
    compiled: dict[Any, Any] = {}
    monkeypatch.setattr(statements, "_compiled_pages", compiled)

    def figures(periods: list[Period]) -> dict[tuple[str, int], Estimate]:
        facts = GroupedFacts(MetricFilters(period=periods[0]), periods)
        return {
            (name, j): facts.compute(name, period=j)
            for name, definition in METRICS.items()
            if definition.fact is not None
            for j in range(len(periods))
        }

    figures([PERIOD, PERIOD.previous()])
    assert None not in compiled.values()  # none built per call
    shapes = {key[1] for key in compiled}
    assert shapes == {"metrics rollup"} | {f"metrics facts: {family}" for family in families()}
    count = len(compiled)
    shifted = Period(PERIOD.start + dt.timedelta(days=3), PERIOD.end + dt.timedelta(days=3))
    again = figures([shifted, shifted.previous()])
    assert len(compiled) == count
    compiled.clear()
    afresh = figures([shifted, shifted.previous()])
    for key, estimate in afresh.items():
        _same(again[key], estimate, str(key))
