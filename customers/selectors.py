"""Reads about customers, with their query shapes in one visible place."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    Model,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least, TruncDate
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from core.dates import site_day_start
from customers.contacts import format_phone_for_display, normalise_email, normalise_phone
from customers.models import (
    ContactPoint,
    Customer,
    CustomerTally,
    Interaction,
    Purchase,
    Reminder,
    Tag,
    ValueToDate,
)

# The kinds a phone number is stored under: a phone, or a messenger handle that is a number.
PHONE_KINDS = (ContactPoint.Kind.PHONE, ContactPoint.Kind.MESSENGER)


@dataclass(frozen=True)
class ContactRow:
    """A contact point as the card lists it, with the value as shown (phones formatted)."""

    contact: ContactPoint
    display: str


def contact_rows(contacts: Sequence[ContactPoint]) -> list[ContactRow]:
    """The card's rows of these contacts: a phone, or a handle that is a number, formatted."""
    rows = []
    for contact in contacts:
        phone_like = contact.kind == ContactPoint.Kind.PHONE or contact.normalised_value.startswith(
            "+"
        )
        display = (
            format_phone_for_display(contact.normalised_value) if phone_like else contact.value
        )
        rows.append(ContactRow(contact=contact, display=display))
    return rows


def caller_contacts(*, phone: str = "", email: str = "") -> QuerySet[ContactPoint]:
    """The contact points that match a caller: a phone in any spelling (as a phone or a
    phone-based messenger) or else an email in any case. The one caller-ID match, read by the
    API's lookup, the call screen-pop and search through the `(kind, normalised_value)` index.

    Raises ValidationError if the phone is not a phone number.
    """
    if phone:
        return ContactPoint.objects.filter(
            kind__in=PHONE_KINDS, normalised_value=normalise_phone(phone)
        )
    return ContactPoint.objects.filter(
        kind=ContactPoint.Kind.EMAIL, normalised_value=normalise_email(email)
    )


def customers_by_phone(raw_phone: str) -> QuerySet[Customer]:
    """Customers having this phone (any spelling) as a phone or phone-based messenger.

    Raises ValidationError if the text is not a phone number. One indexed query.
    """
    return Customer.objects.filter(pk__in=caller_contacts(phone=raw_phone).values("customer_id"))


def customers_by_email(raw_email: str) -> QuerySet[Customer]:
    """Customers having this email address, whatever its case. One indexed query."""
    return Customer.objects.filter(pk__in=caller_contacts(email=raw_email).values("customer_id"))


def customers_by_contact(text: str) -> QuerySet[Customer]:
    """Customers matching free text read as an email (if it has "@") or a phone.

    Empty when the text is neither; for search boxes, where a name is also a fair guess.
    """
    text = (text or "").strip()
    try:
        return customers_by_email(text) if "@" in text else customers_by_phone(text)
    except ValidationError:
        return Customer.objects.none()


# --- Reads for the operator's card -----------------------------------------------------------

# A term ending within this many days is shown in red rather than amber.
TERM_URGENT_DAYS = 7


@dataclass(frozen=True)
class Term:
    """A warranty, support contract or subscription of a purchase and how far its end is."""

    kind: str
    label: str
    ends_on: dt.date
    days_left: int
    # "ended", "urgent" (within TERM_URGENT_DAYS), "soon" (within CRM_EXPIRY_WARNING_DAYS), "ok"
    level: str

    @property
    def expires_in_words(self) -> str:
        return expires_in_words(self.days_left)


def expires_in_words(days_left: int) -> str:
    """When a term that has not ended yet ends: "expires today", "... tomorrow", "... in N days".

    The one wording for the card's terms and the offers they prompt, with the plural forms of
    the operator's language (Russian has three).
    """
    if days_left <= 0:
        return gettext("expires today")
    if days_left == 1:
        return gettext("expires tomorrow")
    return ngettext("expires in %(days)s day", "expires in %(days)s days", days_left) % {
        "days": days_left
    }


@dataclass(frozen=True)
class PurchaseLine:
    """A purchase with its terms and the reminders sent or planned about them."""

    purchase: Purchase
    terms: list[Term]
    reminders: list[Reminder]


_TERM_FIELDS = (
    ("warranty", "warranty_ends_on", gettext_lazy("Warranty")),
    ("support", "support_ends_on", gettext_lazy("Support")),
    ("subscription", "subscription_ends_on", gettext_lazy("Subscription")),
)


def _terms(purchase: Purchase, today: dt.date) -> list[Term]:
    window = settings.CRM_EXPIRY_WARNING_DAYS
    terms = []
    for kind, field_name, label in _TERM_FIELDS:
        ends_on = getattr(purchase, field_name)
        if ends_on is None:
            continue
        days = (ends_on - today).days
        if days < 0:
            level = "ended"
        elif days <= TERM_URGENT_DAYS:
            level = "urgent"
        elif days <= window:
            level = "soon"
        else:
            level = "ok"
        terms.append(
            Term(kind=kind, label=str(label), ends_on=ends_on, days_left=days, level=level)
        )
    return terms


def _lines(purchases: Sequence[Purchase], today: dt.date) -> list[PurchaseLine]:
    """Purchases with their terms and reminders: one query for the reminders of all of them."""
    return _lines_of_lists([purchases], today)[0]


def _reminders_of(purchase_ids: list[int]) -> QuerySet[Reminder]:
    return Reminder.objects.filter(among(Reminder, "purchase_id", purchase_ids)).order_by(
        "due_on", "id"
    )


def _lines_of_lists(
    lists: Sequence[Sequence[Purchase]], today: dt.date
) -> list[list[PurchaseLine]]:
    """Several lists of purchases with their terms, one reminders query for all of them."""
    by_purchase: dict[int, list[Reminder]] = {p.pk: [] for ps in lists for p in ps}
    if by_purchase:
        reminders = fixed_rows("reminders of purchases", _reminders_of, values=(list(by_purchase),))
        for reminder in reminders:
            by_purchase[reminder.purchase_id].append(reminder)
    return [[PurchaseLine(p, _terms(p, today), by_purchase[p.pk]) for p in ps] for ps in lists]


def purchase_page(
    customer_id: int, *, today: dt.date, offset: int, limit: int
) -> list[PurchaseLine]:
    """A page of the customer's purchases, newest first, with terms and reminders (2 queries)."""
    return _lines(_page(customer_id, offset=offset, limit=limit), today)


def _page(customer_id: int, *, offset: int, limit: int) -> list[Purchase]:
    return list(
        Purchase.objects.filter(customer_id=customer_id)
        .select_related("product")
        .order_by("-purchased_at", "-id")[offset : offset + limit]
    )


def expiring_purchases(customer_id: int, *, today: dt.date, limit: int) -> list[PurchaseLine]:
    """Completed purchases with a term ending within CRM_EXPIRY_WARNING_DAYS, nearest end first."""
    return _lines(_expiring(customer_id, today=today, limit=limit), today)


def card_purchases(
    customer_id: int, *, today: dt.date, expiring: int, latest: int
) -> tuple[list[PurchaseLine], list[PurchaseLine], int]:
    """The card's two purchase lists (expiring soon, newest) and the count of all the
    customer's purchases, with one reminders query for both lists (3 queries)."""
    newest = customer_page(
        "newest purchases",
        _newest_purchases,
        customer_id,
        offset=0,
        limit=latest,
        keys_first=True,
        tally="purchases",
    )
    both = _lines_of_lists(
        [_expiring(customer_id, today=today, limit=expiring), newest.items], today
    )
    return both[0], both[1], newest.count


def _newest_purchases(customer_id: int) -> QuerySet[Purchase]:
    return (
        Purchase.objects.filter(customer_id=customer_id)
        .select_related("product")
        .order_by("-purchased_at", "-id")
    )


def _expiring(customer_id: int, *, today: dt.date, limit: int) -> list[Purchase]:
    return customer_rows(
        "expiring purchases",
        lambda some_customer: _expiring_queryset(some_customer, today=today, limit=limit),
        customer_id,
        key=(today, limit, settings.CRM_EXPIRY_WARNING_DAYS),
    )


def terms_ending(customer_id: int, start: dt.date, end: dt.date) -> QuerySet[Purchase, Any]:
    """The ids of the customer's completed purchases with a term ending from `start` to `end`.

    One branch per term, each a range of its (customer, term end) index
    (purchase_customer_*_idx), joined by UNION ALL. The same test written as one OR of the
    three ranges was planned, as a prepared statement's generic plan, as a walk through all
    of the customer's purchases: 3.5 ms for a customer with 2,000 of them, 0.1 here.
    """
    branches = [
        Purchase.objects.filter(
            customer_id=customer_id,
            status=Purchase.Status.COMPLETED,
            **{f"{field_name}__range": (start, end)},
        ).values("id")
        for _kind, field_name, _label in _TERM_FIELDS
    ]
    return branches[0].union(*branches[1:], all=True)


def _expiring_queryset(customer_id: int, *, today: dt.date, limit: int) -> QuerySet[Purchase]:
    horizon = today + dt.timedelta(days=settings.CRM_EXPIRY_WARNING_DAYS)
    ends_in_window = []
    for _kind, field_name, _label in _TERM_FIELDS:
        in_window = Q(**{f"{field_name}__range": (today, horizon)})
        ends_in_window.append(
            Coalesce(
                Case(When(in_window, then=F(field_name)), default=None),
                Value(dt.date.max),
                output_field=DateField(),
            )
        )
    return (
        Purchase.objects.filter(pk__in=terms_ending(customer_id, today, horizon))
        .select_related("product")
        .annotate(next_end=Least(*ends_in_window))
        .order_by("next_end", "-id")[:limit]
    )


@dataclass(frozen=True)
class Page:
    """A slice of a list with what a pager needs to ask for the next one."""

    items: list[Any]
    count: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.items)
        return following if following < self.count else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None


class CountOf(Subquery):
    """How many rows a queryset has, as a scalar subquery (an uncorrelated one: the database
    counts once per statement, not per row)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) counted)"
    output_field = IntegerField()

    def __init__(self, queryset: QuerySet[Any]) -> None:
        super().__init__(queryset.order_by().values("pk"))


# The attribute page_of() leaves on each row: the count of the whole list.
_LIST_TOTAL = "list_total"


def page_of(queryset: QuerySet[Any], *, offset: int, limit: int) -> Page:
    """A page of an ordered queryset with the count of all its rows, in one statement.

    The card shows a few rows of each list and "all N" beside them: the count rides along
    with the rows (`CountOf`) instead of costing a second statement. An empty page past the
    first asks for the count on its own (there is no row to carry it).
    """
    items = list(queryset.annotate(**{_LIST_TOTAL: CountOf(queryset)})[offset : offset + limit])
    if not items:
        return Page(
            items=items, count=queryset.count() if offset else 0, offset=offset, limit=limit
        )
    count = getattr(items[0], _LIST_TOTAL)
    return Page(items=items, count=count, offset=offset, limit=limit)


# The inputs a statement is first compiled with, twice, to find their places: an id no
# customer has (and the next one), and for the other inputs values of their type that no row
# holds (see `_sentinel`).
_SOME_CUSTOMER = -2_000_000_017


@dataclass(frozen=True)
class _Slot:
    """A parameter of a compiled statement that takes one of its inputs."""

    position: int  # in the statement's parameters
    source: int  # which input: 0 the customer's id, 1... the `values`
    adapt: Callable[[Any], Any] | None  # how the backend writes it (SQLite: a string)
    # The parameter's own type where it wraps the input's (psycopg's Int8 for a bigint).
    wrap: type | None = None


@dataclass(frozen=True)
class _Compiled:
    queryset: QuerySet[Any]
    compiler: Any
    sql: str
    params: tuple[Any, ...]
    slots: tuple[_Slot, ...]
    # Each thread's converters of the columns, by database alias: what Django asks every
    # column for on every run (twenty-odd calls a statement) is asked once. Per thread,
    # since they may be methods of that thread's connection.
    converters: threading.local = field(default_factory=threading.local, compare=False)


_compiled_pages: dict[tuple[Any, ...], _Compiled | None] = {}
# Each shape's model, for the database router: its queryset is built once, not per call.
_shape_models: dict[str, type[Model]] = {}
_compiled_pages_lock = threading.Lock()
# Statements compiled with another input in their key (today's date) are dropped wholesale
# beyond this many, so that a process running for months keeps a bounded few.
_COMPILED_MAX = 500


def _sentinel(value: Any, index: int, variant: int) -> Any:
    """A stand-in for an input of `value`'s type that no row holds and no other input
    shares: a date and time in 1901, a date in 1902, a negative number."""
    if isinstance(value, dt.datetime):
        return dt.datetime(1901, 1 + variant, 1, 0, 0, index % 60, index, tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        # Three days apart: no date's day start, nor the next day's, is another's (_adapters).
        return dt.date(1902 + variant, 1, 1) + dt.timedelta(days=3 * index)
    if isinstance(value, int) and not isinstance(value, bool):
        return _SOME_CUSTOMER - 1000 * variant - index
    if isinstance(value, list):  # a list of ids (`among()`): one array parameter
        return [_SOME_CUSTOMER - 1000 * variant - index]
    raise TypeError(f"a compiled statement takes ids, lists of ids, dates and times, not {value!r}")


def _adapters(value: Any, alias: str) -> list[Callable[[Any], Any] | None]:
    """The forms an input may take among a compiled statement's parameters: itself, or as
    the backend writes a value of its type (SQLite turns dates and times into strings); a
    date also as the instant its local day starts, or the next day starts (the bounds of a
    range of whole days: `metrics.periods.Period.start_at`, `end_before`)."""
    ops = connections[alias].ops
    if isinstance(value, dt.datetime):
        return [None, ops.adapt_datetimefield_value]
    if isinstance(value, dt.date):
        instant = ops.adapt_datetimefield_value
        return [
            None,
            ops.adapt_datefield_value,
            site_day_start,
            lambda day: instant(site_day_start(day)),
            _next_day_start,
            lambda day: instant(_next_day_start(day)),
        ]
    return [None]


def _next_day_start(day: dt.date) -> dt.datetime:
    return site_day_start(day + dt.timedelta(days=1))


def _compile_twice(
    make: Callable[[int, tuple[Any, ...]], QuerySet[Any]],
    alias: str,
    values: tuple[Any, ...],
) -> _Compiled | None:
    """The statement `make(customer_id, values)` builds, compiled once for all inputs.

    Compiled twice with two sets of stand-ins: the text must be the same and every parameter
    either the same in both or a stand-in of the same input in both (its place). A value
    derived from an input inside the statement (a day cut from a time, an interval added)
    differs in both without being a stand-in: then the statement is built per call (None),
    never run with a stand-in's leftovers.
    """
    first_inputs = (_SOME_CUSTOMER, *(_sentinel(v, i + 1, 0) for i, v in enumerate(values)))
    second_inputs = (
        _SOME_CUSTOMER - 1,
        *(_sentinel(v, i + 1, 1) for i, v in enumerate(values)),
    )
    queryset = make(first_inputs[0], first_inputs[1:])
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    other_sql, other_params = (
        make(second_inputs[0], second_inputs[1:]).query.get_compiler(using=alias).as_sql()
    )
    if sql != other_sql or len(params) != len(other_params):
        return None
    forms = [
        [(adapt, (adapt or _same)(one), (adapt or _same)(two)) for adapt in _adapters(one, alias)]
        for one, two in zip(first_inputs, second_inputs, strict=True)
    ]
    slots = []
    for position, (one, two) in enumerate(zip(params, other_params, strict=True)):
        if _equal(one, two):
            continue
        slot = next(
            (
                _Slot(position, source, adapt, None if type(one) is type(first) else type(one))
                for source, source_forms in enumerate(forms)
                for adapt, first, second in source_forms
                if _equal(one, first) and _equal(two, second)
            ),
            None,
        )
        if slot is None:
            return None  # derived from an input: not a plain place to put it
        slots.append(slot)
    return _Compiled(queryset, compiler, sql, tuple(params), tuple(slots))


def _same(value: Any) -> Any:
    return value


def _equal(one: Any, two: Any) -> bool:
    """The same value of the same kind (a date is not its midnight, True is not 1); a
    subclass counts as its base (psycopg's Int8 as an int)."""
    if isinstance(one, bool) != isinstance(two, bool):
        return False
    kinds = (type(one), type(two))
    return (isinstance(one, kinds[1]) or isinstance(two, kinds[0])) and one == two


def _compiled(key: tuple[Any, ...], make: Callable[[], _Compiled | None]) -> _Compiled | None:
    if key not in _compiled_pages:
        with _compiled_pages_lock:
            if key not in _compiled_pages:
                if len(_compiled_pages) >= _COMPILED_MAX:
                    _compiled_pages.clear()
                _compiled_pages[key] = make()
    return _compiled_pages.get(key)


def _alias(shape: str, make: Callable[[], QuerySet[Any]]) -> str:
    model = _shape_models.get(shape)
    if model is None:
        model = _shape_models[shape] = make().model
    return router.db_for_read(model)


def _run(compiled: _Compiled, inputs: tuple[Any, ...], alias: str) -> list[Any]:
    """The compiled statement for these inputs, its rows built as Django builds them."""
    params = list(compiled.params)
    for slot in compiled.slots:
        value = inputs[slot.source]
        if slot.adapt is not None:
            value = slot.adapt(value)
        params[slot.position] = slot.wrap(value) if slot.wrap is not None else value
    # This call's compiler: the compiled one's columns and row layout, this thread's
    # connection, these inputs.
    compiler = copy.copy(compiled.compiler)
    compiler.connection, compiler.using = connections[alias], alias
    compiler.as_sql = lambda *args, **kwargs: (compiled.sql, params)
    converters = getattr(compiled.converters, alias, None)
    if converters is None:
        columns = [column[0] for column in compiled.compiler.select[: compiled.compiler.col_count]]
        converters = compiler.get_converters(columns)
        setattr(compiled.converters, alias, converters)
    compiler.get_converters = lambda expressions: converters
    queryset: Any = compiled.queryset._chain()  # type: ignore[attr-defined]
    queryset.query.get_compiler = lambda *args, **kwargs: compiler
    return list(queryset)


def customer_page(
    shape: str,
    build: Callable[[int], QuerySet[Any]],
    customer_id: int,
    *,
    offset: int,
    limit: int,
    key: tuple[Any, ...] = (),
    keys_first: bool = False,
    tally: str = "",
) -> Page:
    """`page_of(build(customer_id), ...)` without building and compiling the statement on
    every card: `build` (a queryset of one customer's rows, depending on nothing but the id)
    is compiled once per process, database and page (`shape` names it), then only the
    customer's id changes, as `crm.api.customer_views.lookup_rows()` does for the caller-ID
    lookup. The ORM spent more of a card's time compiling its statements than the database
    spent running them; on PostgreSQL the same text is also planned once per connection.
    `key` names whatever else the statement holds (content type ids, which a database made
    again in tests gives new numbers).

    `keys_first` picks the page's ids first (`id IN (SELECT id ... LIMIT n)`) and joins the
    rest to those few: for a list whose join makes the prepared statement's generic plan,
    costed for an average customer, join every row of a long history and sort them (the
    newest purchases with their products: 2.6 ms for 2,000 purchases, 0.9 ms this way).

    `tally` names the customer's kept count of the list's rows (a `CustomerTally` field, when
    the list is all of them): read instead of counting the whole list.
    """

    def paged(some_customer: int, _values: tuple[Any, ...]) -> QuerySet[Any]:
        queryset = build(some_customer)
        total = _tally_of(some_customer, tally) if tally else CountOf(queryset)
        if keys_first:
            keys = queryset.values("pk")[offset : offset + limit]
            return queryset.filter(pk__in=keys).annotate(**{_LIST_TOTAL: total})[:limit]
        return queryset.annotate(**{_LIST_TOTAL: total})[offset : offset + limit]

    alias = _alias(shape, lambda: build(_SOME_CUSTOMER))
    full_key = ("page", shape, alias, connections[alias].vendor, offset, limit, keys_first, *key)
    compiled = _compiled(full_key, lambda: _compile_twice(paged, alias, ()))
    if compiled is None:
        return page_of(build(customer_id), offset=offset, limit=limit)
    items = _run(compiled, (customer_id,), alias)
    if not items:
        count = build(customer_id).count() if offset else 0
        return Page(items=items, count=count, offset=offset, limit=limit)
    return Page(items=items, count=getattr(items[0], _LIST_TOTAL), offset=offset, limit=limit)


def _tally_of(customer_id: int, field: str) -> Coalesce:
    """The customer's kept count `field` (customers.tallies), 0 without a tally."""
    kept = CustomerTally.objects.filter(customer_id=customer_id).values(field)[:1]
    return Coalesce(Subquery(kept, output_field=IntegerField()), Value(0))


def customer_rows(
    shape: str,
    build: Callable[..., QuerySet[Any]],
    customer_id: int,
    *,
    key: tuple[Any, ...] = (),
    values: tuple[Any, ...] = (),
) -> list[Any]:
    """`list(build(customer_id, *values))`, compiled once per process, database, `shape` and
    `key` (whatever else `build` depends on, such as today's date), as `customer_page()`
    does. `values` are inputs that change from call to call (ids, dates, times: "now", a
    cut-off before it); `build` must use each as a plain parameter, unchanged (a value
    derived from one inside the statement is found when it is compiled, and the statement
    is then built on every call)."""
    alias = _alias(shape, lambda: build(_SOME_CUSTOMER, *values))
    full_key = ("rows", shape, alias, connections[alias].vendor, *key)
    compiled = _compiled(
        full_key,
        lambda: _compile_twice(lambda c, vs: build(c, *vs), alias, tuple(values)),
    )
    if compiled is None:
        return list(build(customer_id, *values))
    return _run(compiled, (customer_id, *values), alias)


def fixed_rows(
    shape: str,
    build: Callable[..., QuerySet[Any]],
    *,
    key: tuple[Any, ...] = (),
    values: tuple[Any, ...] = (),
) -> list[Any]:
    """`list(build(*values))` of a statement that is not one customer's (the latest CLV fit,
    the reminders of some purchases), compiled once like `customer_rows()`."""
    return customer_rows(
        shape, lambda _customer, *inputs: build(*inputs), _SOME_CUSTOMER, key=key, values=values
    )


def among(model: type[Model], field: str, ids: Sequence[int]) -> Q:
    """`field IN ids` in a statement whose text does not depend on how many ids there are:
    on PostgreSQL one array parameter (`= ANY(%s)`), so that `customer_rows()` and
    `fixed_rows()` compile it once for any list; elsewhere a plain `IN` (then the statement
    is built per call). Give the ids as a list, and not an empty one where `IN ()` would
    have run no statement. For columns that hold no NULL: excluded, a NULL drops out here,
    where `exclude(field__in=...)` keeps it."""
    if connections[router.db_for_read(model)].vendor == "postgresql":
        return Q(_EqualsAny(F(field), Value(list(ids))))
    return Q(**{f"{field}__in": list(ids)})


class _EqualsAny(Func):
    """`column = ANY(array)` (PostgreSQL), a condition of its own: as the right-hand side
    of a lookup Django would write `= (ANY(...))`, which is no SQL."""

    output_field = BooleanField()

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        column, array = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        array_sql, array_params = compiler.compile(array)
        return f"{column_sql} = ANY({array_sql})", (*column_params, *array_params)


def card_customer(customer_id: int) -> Customer:
    """The customer with their tags (as `prefetch_related("tags")` leaves them), in two
    statements compiled once; raises Customer.DoesNotExist."""
    found = customer_rows("card customer", _customer_by_id, customer_id)
    if not found:
        raise Customer.DoesNotExist(f"No customer {customer_id}.")
    customer = found[0]
    tags = customer.tags.all()  # the related manager's queryset, its rows given here
    tags._result_cache = customer_rows("card customer tags", _tags_of, customer_id)
    tags._prefetch_done = True
    customer._prefetched_objects_cache = {"tags": tags}
    return customer


def _customer_by_id(customer_id: int) -> QuerySet[Customer]:
    return Customer.objects.filter(pk=customer_id)


def _tags_of(customer_id: int) -> QuerySet[Tag]:
    return Tag.objects.filter(customers=customer_id)


def card_contacts(customer_id: int, *, limit: int) -> list[ContactPoint]:
    """The customer's first `limit` contacts in their order (primary first)."""
    return customer_rows(
        "card contacts",
        lambda some_customer: ContactPoint.objects.filter(customer_id=some_customer)[:limit],
        customer_id,
        key=(limit,),
    )


def timeline_page(customer_id: int, *, offset: int, limit: int) -> Page:
    """The customer's interactions on every channel, newest first (one query)."""
    return customer_page(
        "timeline", _timeline, customer_id, offset=offset, limit=limit, tally="interactions"
    )


def _timeline(customer_id: int) -> QuerySet[Interaction]:
    return (
        Interaction.objects.filter(customer_id=customer_id)
        .select_related("operator")
        .order_by("-started_at", "-id")
    )


# Money figures derived here are shown to the cent.
CENT = Decimal("0.01")


def order_day() -> TruncDate:
    """The order a purchase line belongs to: all of a customer's purchases of one day (in the
    site's time zone) are one order. The card and the metrics count orders this way."""
    return TruncDate("purchased_at", tzinfo=timezone.get_default_timezone())


def average_order_value(*, revenue: Decimal, orders: int) -> Decimal | None:
    """Revenue per order (see `order_day`), to the cent; None without orders."""
    return (revenue / orders).quantize(CENT) if orders else None


@dataclass(frozen=True)
class HistoricalValue:
    """A customer's value to date in one currency: revenue, margin where costs are known,
    orders (purchase days) and the average order."""

    currency: str
    revenue: Decimal
    # Completed purchase lines, and the orders (purchase days) they make.
    purchases: int
    orders: int
    average_order_value: Decimal | None
    last_purchase_at: dt.datetime | None
    margin: Decimal | None
    # How many of the purchase lines the margin covers (the ones whose product cost is known).
    margin_purchases: int
    first_purchase_at: dt.datetime | None = None


def value_aggregates() -> dict[str, Any]:
    """The value to date's figures over completed purchases, as `.annotate()` arguments:
    the card's live read below and the kept rows (`customers.values`) sum the same way."""
    known_cost = Q(product__cost__isnull=False)
    return {
        "revenue": Sum("amount"),
        "purchases": Count("id"),
        "orders": Count(order_day(), distinct=True),
        "last_purchase_at": Max("purchased_at"),
        "first_purchase_at": Min("purchased_at"),
        "margin": Sum(
            ExpressionWrapper(
                F("amount") - F("quantity") * F("product__cost"),
                output_field=DecimalField(max_digits=16, decimal_places=2),
            ),
            filter=known_cost,
        ),
        "margin_purchases": Count("id", filter=known_cost),
    }


def _value_by_currency(customer_id: int, now: dt.datetime) -> QuerySet[Any]:
    return (
        Purchase.objects.filter(
            customer_id=customer_id, status=Purchase.Status.COMPLETED, purchased_at__lte=now
        )
        .values("currency")
        .annotate(**value_aggregates())
        .order_by(F("revenue").desc(), "currency")
    )


# A kept value to date's columns (customers.values writes them, `_kept_value` reads them).
KEPT_VALUE_FIELDS = (
    "currency",
    "revenue",
    "purchases",
    "orders",
    "last_purchase_at",
    "first_purchase_at",
    "margin",
    "margin_purchases",
    "time_zone",
)


def _kept_value(customer_id: int) -> QuerySet[Any]:
    return (
        ValueToDate.objects.filter(customer_id=customer_id)
        .values(*KEPT_VALUE_FIELDS)
        .order_by("-revenue", "currency")
    )


def historical_value(customer_id: int, *, now: dt.datetime) -> list[HistoricalValue]:
    """Historical CLV of completed purchases up to `now`, one row per currency; the average
    order is revenue per order (purchase day), as in the metrics.

    Read from the kept sums (`ValueToDate`, one indexed read whatever the history's
    length); from one aggregate over the purchases when those count a purchase dated later
    than `now` or orders of another time zone."""
    rows = customer_rows("kept value", _kept_value, customer_id)
    if any(row["last_purchase_at"] > now or row["time_zone"] != settings.TIME_ZONE for row in rows):
        # A purchase dated later than `now`, or orders counted as days of another time zone
        # (the site's changed; the `purchase_days` job rebuilds them): from the purchases.
        rows = customer_rows(
            "value by currency",
            _value_by_currency,
            customer_id,
            values=(now,),
            key=(settings.TIME_ZONE,),  # an order is a day there (order_day)
        )
    return [
        HistoricalValue(
            currency=row["currency"],
            revenue=row["revenue"] or Decimal(0),
            purchases=row["purchases"],
            orders=row["orders"],
            average_order_value=average_order_value(
                revenue=row["revenue"] or Decimal(0), orders=row["orders"]
            ),
            last_purchase_at=row["last_purchase_at"],
            margin=row["margin"],
            margin_purchases=row["margin_purchases"],
            first_purchase_at=row["first_purchase_at"],
        )
        for row in rows
    ]
