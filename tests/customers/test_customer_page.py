"""The card's lists compiled once per process (customers.selectors.customer_page): the same
rows, the same count and the same related objects as building the queryset every time."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from crm.history import _history_entries
from customers import selectors
from customers.card import _offers_made, _open_interests
from customers.models import Customer
from customers.selectors import _newest_purchases, _timeline, customer_page, page_of
from surveys.selectors import _newest_answers
from tests.card_fixtures import build_history
from tests.factories import CustomerFactory, OfferFactory
from tickets.selectors import _closed_tickets, _open_tickets

pytestmark = pytest.mark.django_db

LISTS = {
    "timeline": _timeline,
    "newest purchases": _newest_purchases,
    "open tickets": _open_tickets,
    "closed tickets": _closed_tickets,
    "open interests": _open_interests,
    "offers made": _offers_made,
    "survey answers": _newest_answers,
    "history": _history_entries,
}


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    """Each row's fields and annotations, and the related objects select_related loaded."""
    rows = []
    for item in items:
        row = {key: value for key, value in vars(item).items() if key != "_state"}
        row["related"] = sorted(item._state.fields_cache)
        rows.append(row)
    return rows


@pytest.fixture
def customers() -> list[Customer]:
    full, few = CustomerFactory.create_batch(2)
    build_history(full, purchases=30, tickets=12, interactions=40)
    build_history(few, purchases=2, tickets=1, interactions=3)
    OfferFactory.create_batch(7, customer=full)
    OfferFactory.create(customer=few, operator=None)
    return [full, few, CustomerFactory.create()]


@pytest.mark.parametrize("shape", sorted(LISTS))
def test_each_list_is_what_its_queryset_gives(shape: str, customers: list[Customer]) -> None:
    build = LISTS[shape]
    assert any(build(customer.pk).exists() for customer in customers), "a list with rows"
    for customer in customers:
        for offset, limit in ((0, 5), (5, 5), (500, 5)):
            plain = page_of(build(customer.pk), offset=offset, limit=limit)
            for keys_first in (False, True):
                compiled = customer_page(
                    shape, build, customer.pk, offset=offset, limit=limit, keys_first=keys_first
                )
                where = (shape, customer.pk, offset, keys_first)
                assert compiled.count == plain.count, where
                assert _rows(compiled.items) == _rows(plain.items), where


def test_a_list_is_compiled_once_and_read_in_one_statement(
    customers: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    compiles: list[str] = []
    real = selectors._compile_twice

    def counted(*args: Any, **kwargs: Any) -> Any:
        compiles.append("compile")
        return real(*args, **kwargs)

    monkeypatch.setattr(selectors, "_compiled_pages", {})
    monkeypatch.setattr(selectors, "_compile_twice", counted)
    full = customers[0]
    customer_page("timeline", _timeline, full.pk, offset=0, limit=10)
    with CaptureQueriesContext(connection) as queries:
        page = customer_page("timeline", _timeline, customers[1].pk, offset=0, limit=10)
        assert all(item.operator is None or item.operator.pk for item in page.items)

    assert compiles == ["compile"]
    assert len(queries) == 1  # the rows with their count and operators, no lazy loads
    assert {item.customer_id for item in page.items} == {customers[1].pk}


def test_rows_compiled_once_are_what_their_queryset_gives(customers: list[Customer]) -> None:
    """The expiring purchases (keyed by today and the limit) and the last survey sent."""
    import datetime as dt

    from django.utils import timezone

    from customers.models import Purchase
    from customers.selectors import _expiring, _expiring_queryset
    from surveys.services import _newest_invitation, last_survey_sent
    from tests.factories import SurveyInvitationFactory

    full = customers[0]
    Purchase.objects.filter(customer=full).update(
        warranty_ends_on=timezone.localdate() + dt.timedelta(days=10)
    )
    SurveyInvitationFactory.create_batch(2, customer=full)
    today = timezone.localdate()
    for customer in customers:
        for limit in (1, 5):
            got = _expiring(customer.pk, today=today, limit=limit)
            want = list(_expiring_queryset(customer.pk, today=today, limit=limit))
            assert _rows(got) == _rows(want)
        assert _rows([x for x in [last_survey_sent(customer.pk)] if x]) == _rows(
            list(_newest_invitation(customer.pk))
        )
    assert _expiring(full.pk, today=today, limit=5)
    assert last_survey_sent(full.pk) is not None


def test_rows_with_times_are_compiled_once_with_their_places(
    customers: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An input that changes with every call ("now", a cut-off) takes its place in the
    statement compiled once: each call's rows are those of the queryset built for it."""
    import datetime as dt

    from django.utils import timezone

    from customers.models import Interaction

    def since(customer_id: int, after: dt.datetime) -> Any:
        return Interaction.objects.filter(customer_id=customer_id, started_at__gte=after).order_by(
            "-started_at", "-id"
        )

    monkeypatch.setattr(selectors, "_compiled_pages", {})
    full = customers[0]
    times = sorted(Interaction.objects.filter(customer=full).values_list("started_at", flat=True))
    assert len(times) > 3
    cuts = [times[0], times[len(times) // 2], times[-1], timezone.now()]
    for customer in customers:
        for cut in cuts:
            got = selectors.customer_rows("since", since, customer.pk, values=(cut,))
            assert _rows(got) == _rows(list(since(customer.pk, cut))), (customer.pk, cut)
    key = ("rows", "since", "default", connection.vendor)
    compiled = selectors._compiled_pages[key]
    assert compiled is not None
    assert sorted(slot.source for slot in compiled.slots) == [0, 1]
    with CaptureQueriesContext(connection) as queries:
        selectors.customer_rows("since", since, full.pk, values=(cuts[1],))
    assert len(queries) == 1


def test_an_input_changed_inside_the_statement_is_built_per_call(
    customers: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value derived from an input (a day cut from a time, an interval added) is not a
    place to put the input: the statement is then built on every call, with correct rows,
    never run with what the stand-in left behind."""
    import datetime as dt

    from django.utils import timezone

    from customers.models import Interaction

    def derived(customer_id: int, now: dt.datetime) -> Any:
        return Interaction.objects.filter(
            customer_id=customer_id, started_at__gte=now - dt.timedelta(days=3)
        ).order_by("-id")

    def day_of(customer_id: int, now: dt.datetime) -> Any:
        return Interaction.objects.filter(
            customer_id=customer_id, started_at__date__lte=now.date()
        ).order_by("-id")

    monkeypatch.setattr(selectors, "_compiled_pages", {})
    full = customers[0]
    now = timezone.now()
    for shape, build in (("derived", derived), ("day of", day_of)):
        for when in (now, now - dt.timedelta(days=400)):
            got = selectors.customer_rows(shape, build, full.pk, values=(when,))
            assert _rows(got) == _rows(list(build(full.pk, when))), (shape, when)
    # The interval is added in Python: a plain place. The day is cut in Python too, but the
    # input given is the time, so its day's stand-in is not found: built per call.
    assert selectors._compiled_pages[("rows", "derived", "default", connection.vendor)] is None
    assert selectors._compiled_pages[("rows", "day of", "default", connection.vendor)] is None


def test_whole_days_are_placed_as_the_instants_they_start_and_end(
    customers: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range of whole local days (`metrics.periods.Period`: `start_at`, `end_before`) is
    written as the instant its first day starts and the one after its last day: dates given
    as inputs are found in those forms too, so the statement is compiled once, and it is
    right for other days, a time-zone change included."""
    import datetime as dt

    from django.test import override_settings

    from customers.models import Interaction
    from metrics.periods import Period

    def between(customer_id: int, first: dt.date, last: dt.date) -> Any:
        period = Period(first, last)
        return Interaction.objects.filter(
            customer_id=customer_id,
            started_at__gte=period.start_at,
            started_at__lt=period.end_before,
        ).order_by("-id")

    monkeypatch.setattr(selectors, "_compiled_pages", {})
    full = customers[0]
    noon = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    for back, pk in enumerate(
        Interaction.objects.filter(customer=full).values_list("pk", flat=True)
    ):
        Interaction.objects.filter(pk=pk).update(started_at=noon - dt.timedelta(hours=11 * back))
    days = sorted(
        {moment.date() for moment in Interaction.objects.values_list("started_at", flat=True)}
    )
    assert len(days) > 3
    spans = [(days[0], days[-1]), (days[1], days[1]), (days[-1], days[-1] + dt.timedelta(9))]
    found = 0
    for zone in ("UTC", "Asia/Vladivostok"):
        with override_settings(TIME_ZONE=zone):
            for first, last in spans:
                got = selectors.customer_rows("between", between, full.pk, values=(first, last))
                wanted = list(between(full.pk, first, last))
                assert _rows(got) == _rows(wanted), (zone, first, last)
                found += len(wanted)
    assert found
    compiled = selectors._compiled_pages[("rows", "between", "default", connection.vendor)]
    assert compiled is not None
    assert sorted(slot.source for slot in compiled.slots) == [0, 1, 2]


def test_every_statement_the_card_compiles_once_is_compiled(
    customers: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """None of the card's compiled statements falls back to being built on every open (a
    statement whose inputs could not be placed is kept as None and built per call)."""
    from django.utils import timezone

    from accounts.models import User
    from customers.card import build_card

    monkeypatch.setattr(selectors, "_compiled_pages", {})
    boss = User.objects.create_superuser("card-boss", password="x")
    for customer in customers:
        build_card(customer, user=boss, now=timezone.now())
    assert len(selectors._compiled_pages) >= 15
    fallen_back = [key[1] for key, compiled in selectors._compiled_pages.items() if not compiled]
    # A list of ids is one array parameter on PostgreSQL (`among()`); elsewhere an `IN` of
    # as many parameters as ids, built per call.
    lists = [
        "co-purchase partners",
        "offered products",
        "reminders of purchases",
        "term extensions",
    ]
    assert sorted(fallen_back) == ([] if connection.vendor == "postgresql" else lists)


def test_stand_ins_match_only_the_same_kind_of_value() -> None:
    """A parameter is an input's place only if it is that input, of its kind: True is not 1,
    a date is not a time, and psycopg's Int8 is the int it wraps."""
    import datetime as dt

    from psycopg.types.numeric import Int8

    assert selectors._equal(Int8(5), 5) and selectors._equal(5, Int8(5))
    assert not selectors._equal(True, 1) and not selectors._equal(1, True)
    assert not selectors._equal(dt.date(2026, 1, 1), dt.datetime(2026, 1, 1))
    assert selectors._equal("a", "a") and not selectors._equal(1, 1.5)


def test_the_card_customer_is_the_customer_with_tags_prefetched(
    customers: list[Customer],
) -> None:
    """card_customer() (two statements compiled once) gives what
    `prefetch_related("tags").get()` gives: fields, tags in their order, none read again;
    a missing id raises DoesNotExist."""
    from customers.models import Tag

    full = customers[0]
    full.tags.add(Tag.objects.create(name="vip"), Tag.objects.create(name="b2b"))
    for customer in customers:
        expected = Customer.objects.prefetch_related("tags").get(pk=customer.pk)
        found = selectors.card_customer(customer.pk)
        with CaptureQueriesContext(connection) as queries:
            tags = [(tag.pk, tag.name) for tag in found.tags.all()]
        assert len(queries) == 0
        assert tags == [(tag.pk, tag.name) for tag in expected.tags.all()]
        assert vars(found).pop("_prefetched_objects_cache").keys() == {"tags"}
        del vars(expected)["_prefetched_objects_cache"]
        assert _rows([found]) == _rows([expected])
    assert [tag.name for tag in selectors.card_customer(full.pk).tags.all()] == ["b2b", "vip"]
    with pytest.raises(Customer.DoesNotExist):
        selectors.card_customer(max(c.pk for c in customers) + 1)


def test_the_card_contacts_are_the_customers_contacts_in_their_order(
    customers: list[Customer],
) -> None:
    from tests.factories import EmailFactory, PhoneFactory

    full = customers[0]
    PhoneFactory.create_batch(3, customer=full, is_primary=False)
    EmailFactory.create(customer=full, is_primary=False)
    for customer in customers:
        for limit in (2, 13):
            expected = list(customer.contact_points.all()[:limit])
            found = selectors.card_contacts(customer.pk, limit=limit)
            assert [c.pk for c in found] == [c.pk for c in expected]
            assert [vars(c) | {"_state": None} for c in found] == [
                vars(c) | {"_state": None} for c in expected
            ]


def test_a_list_of_ids_is_one_parameter_on_postgresql_and_gives_what_in_gives(
    customers: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`among()`: the same rows as `__in` for lists of one, some and all ids; on PostgreSQL
    the statement is compiled once for every length (one array parameter), elsewhere it is
    built per call."""
    from customers.models import ContactPoint, Purchase

    monkeypatch.setattr(selectors, "_compiled_pages", {})
    ids = sorted(Purchase.objects.values_list("pk", flat=True))
    assert len(ids) > 3

    def purchases_among(purchase_ids: list[int]) -> Any:
        return Purchase.objects.filter(selectors.among(Purchase, "pk", purchase_ids)).order_by("pk")

    for some in ([ids[0]], ids[1:4], ids, [max(ids) + 1]):
        found = selectors.fixed_rows("purchases among", purchases_among, values=(some,))
        assert [p.pk for p in found] == [
            p.pk for p in Purchase.objects.filter(pk__in=some).order_by("pk")
        ]
    compiled = selectors._compiled_pages[("rows", "purchases among", "default", connection.vendor)]
    if connection.vendor == "postgresql":
        assert compiled is not None and "= ANY(" in compiled.sql
        assert [slot.source for slot in compiled.slots] == [1]
    else:
        assert compiled is None
    # Two lists in one statement, OR-ed (the term extensions' shape), and an empty one.
    full = customers[0]
    phones = list(ContactPoint.objects.filter(customer=full).values_list("pk", flat=True))
    both = selectors.fixed_rows(
        "contacts among",
        lambda first, second: ContactPoint.objects.filter(
            selectors.among(ContactPoint, "pk", first)
            | selectors.among(ContactPoint, "customer_id", second)
        ).order_by("pk"),
        values=(phones[:1], [customers[1].pk]),
    )
    expected = ContactPoint.objects.filter(
        Q(pk__in=phones[:1]) | Q(customer_id=customers[1].pk)
    ).order_by("pk")
    assert [c.pk for c in both] == [c.pk for c in expected]
