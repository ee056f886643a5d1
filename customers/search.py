"""The operator's search box: name, phone in any spelling, email, external id, ticket number.

Exact identifiers are matched first through indexed equality lookups (normalised phones and
emails, external ids); names by substring on every word, which PostgreSQL answers from a
trigram GIN index on UPPER(full_name) (migration 0002) and SQLite by a scan that also tries
the usual capitalisations, since its LIKE ignores case for ASCII letters only.

Other apps add their own identifiers with `register_search_provider` (tickets: a ticket
number), so `customers` never imports them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Prefetch, Q
from django.utils.translation import gettext as _

from customers.models import ContactPoint, Customer, CustomerAlias
from customers.selectors import customers_by_email, customers_by_phone

# Fewer characters would match most of the database: the box asks for more instead.
SEARCH_MIN_LENGTH = 2
SEARCH_LIMIT = 20
# Name matches read before sorting by name; beyond this the operator is asked to type more.
NAME_CANDIDATES = 200
# A text with at least this many digits may be a phone number (the shortest valid ones).
PHONE_MIN_DIGITS = 5
_PHONE_CHARACTERS = re.compile(r"^[\d\s()+\-.]+$")

# A provider reads the text and answers (customer id, how it matched) pairs; at most one query.
SearchProvider = Callable[[str], Iterable[tuple[int, str]]]
_PROVIDERS: dict[str, SearchProvider] = {}


def register_search_provider(key: str, provider: SearchProvider) -> None:
    """Let another app match customers by its own identifiers; same key replaces."""
    _PROVIDERS[key] = provider


@dataclass(frozen=True)
class SearchHit:
    customer: Customer
    # How it matched: "phone", "email", "Ticket #42", "name"...
    matched: str


@dataclass
class SearchResult:
    query: str
    hits: list[SearchHit] = field(default_factory=list)
    # Set instead of hits when the text is too short to search.
    hint: str = ""
    # More customers matched the name than are shown.
    truncated: bool = False


def _name_filter(text: str) -> Q:
    condition = Q()
    for word in text.split():
        if connection.vendor == "postgresql":
            condition &= Q(full_name__icontains=word)
        else:
            variants = {word, word.lower(), word.upper(), word.capitalize()}
            any_case = Q()
            for variant in variants:
                any_case |= Q(full_name__contains=variant)
            condition &= any_case
    return condition


def search_customers(text: str, *, limit: int = SEARCH_LIMIT) -> SearchResult:
    """Customers matching `text`, exact identifiers first, then names; a hint if too short."""
    query = " ".join((text or "").split())
    result = SearchResult(query=query)
    if len(query) < SEARCH_MIN_LENGTH:
        result.hint = _("Type at least %(count)s characters: a name, phone, email or number.") % {
            "count": SEARCH_MIN_LENGTH
        }
        return result
    matched: dict[int, str] = {}

    def add(ids: Iterable[int], label: str) -> None:
        for customer_id in ids:
            matched.setdefault(customer_id, label)

    if "@" in query:
        with contextlib.suppress(ValidationError):
            add(customers_by_email(query).values_list("pk", flat=True)[:limit], _("email"))
    digits = sum(ch.isdigit() for ch in query)
    if digits >= PHONE_MIN_DIGITS and _PHONE_CHARACTERS.match(query):
        with contextlib.suppress(ValidationError):
            add(customers_by_phone(query).values_list("pk", flat=True)[:limit], _("phone"))
    add(
        Customer.objects.filter(external_id=query).values_list("pk", flat=True)[:limit],
        _("external ID"),
    )
    # A customer merged into another: its external ID finds the survivor.
    add(
        CustomerAlias.objects.filter(external_id=query).values_list("customer_id", flat=True)[
            :limit
        ],
        _("external ID of a merged customer"),
    )
    for provider in _PROVIDERS.values():
        for customer_id, label in provider(query):
            matched.setdefault(customer_id, label)
    # Unordered on purpose: with ORDER BY full_name and a LIMIT, PostgreSQL may walk the name
    # index in order and filter, slow for a rare name among millions; the trigram index
    # finds the candidates, and they are sorted here.
    by_name = sorted(
        Customer.objects.filter(_name_filter(query))
        .order_by()
        .values_list("full_name", "pk")[:NAME_CANDIDATES]
    )
    result.truncated = len(by_name) > limit
    add([pk for _name, pk in by_name[:limit]], _("name"))
    ids = list(matched)[:limit]
    customers = Customer.objects.filter(pk__in=ids).prefetch_related(
        Prefetch(
            "contact_points",
            queryset=ContactPoint.objects.filter(is_primary=True),
            to_attr="primary_contacts",
        )
    )
    by_id = {customer.pk: customer for customer in customers}
    result.hits = [SearchHit(by_id[i], matched[i]) for i in ids if i in by_id]
    return result
