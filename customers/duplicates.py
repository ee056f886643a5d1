"""Likely duplicate customers, listed for a person to review and merge (customers/merge.py).

Two customers are likely the same person when they share a contact (the normalised phone,
email or messenger handle) or have similar names: trigram similarity on PostgreSQL (pg_trgm,
with the GIN index the search uses), the same name up to case and spacing on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection
from django.db.models import Count, QuerySet
from django.db.models.functions import Upper
from django.utils.translation import gettext as _

from customers.models import ContactPoint, Customer

# pg_trgm's own default threshold for `%`; lower pairs "Anna Ivanova" with "Ivan Annenkov".
NAME_SIMILARITY = 0.6
REVIEW_LIMIT = 50


@dataclass(frozen=True)
class DuplicatePair:
    first: Customer
    second: Customer
    reason: str


def likely_duplicates(*, limit: int = REVIEW_LIMIT) -> list[DuplicatePair]:
    """Pairs of customers that are probably one person, shared contacts first."""
    reasons: dict[tuple[int, int], str] = {}
    for pair, reason in _shared_contacts(limit):
        reasons.setdefault(pair, reason)
    if len(reasons) < limit:
        for pair, reason in _similar_names(limit):
            reasons.setdefault(pair, reason)
    pairs = list(reasons.items())[:limit]
    ids = {pk for pair, _reason in pairs for pk in pair}
    customers = Customer.objects.in_bulk(ids)
    return [
        DuplicatePair(first=customers[a], second=customers[b], reason=reason)
        for (a, b), reason in pairs
        if a in customers and b in customers
    ]


def duplicates_of(customer: Customer, *, limit: int = REVIEW_LIMIT) -> list[DuplicatePair]:
    """The customers that are probably the same person as `customer`."""
    found: dict[int, str] = {}
    contacts = ContactPoint.objects.filter(customer=customer).values_list(
        "kind", "normalised_value"
    )
    for kind, value in contacts:
        for other in (
            ContactPoint.objects.filter(kind=kind, normalised_value=value)
            .exclude(customer=customer)
            .values_list("customer_id", flat=True)[:limit]
        ):
            found.setdefault(other, _("same %(kind)s %(value)s") % {"kind": kind, "value": value})
    names = Customer.objects.exclude(pk=customer.pk).filter(anonymised_at__isnull=True)
    similar: QuerySet[Any]
    if connection.vendor == "postgresql":
        similar = (
            names.annotate(
                similarity=TrigramSimilarity(Upper("full_name"), customer.full_name.upper())
            )
            .filter(similarity__gte=NAME_SIMILARITY)
            .order_by("-similarity")
        )
    else:
        similar = names.annotate(upper=Upper("full_name")).filter(
            upper=_normalised_name(customer.full_name)
        )
    for other in similar.values_list("pk", flat=True)[:limit]:
        found.setdefault(other, _("similar name"))
    customers = Customer.objects.in_bulk(found)
    return [
        DuplicatePair(first=customer, second=customers[pk], reason=reason)
        for pk, reason in found.items()
        if pk in customers
    ][:limit]


def _normalised_name(name: str) -> str:
    return " ".join(name.split()).upper()


def _shared_contacts(limit: int) -> Iterator[tuple[tuple[int, int], str]]:
    shared = (
        ContactPoint.objects.filter(customer__anonymised_at__isnull=True)
        .values("kind", "normalised_value")
        .annotate(customers=Count("customer", distinct=True))
        .filter(customers__gt=1)
        .order_by("kind", "normalised_value")[:limit]
    )
    for group in shared:
        ids = sorted(
            ContactPoint.objects.filter(
                kind=group["kind"], normalised_value=group["normalised_value"]
            ).values_list("customer_id", flat=True)
        )
        reason = _("same %(kind)s %(value)s") % {
            "kind": group["kind"],
            "value": group["normalised_value"],
        }
        for later in ids[1:]:
            yield (ids[0], later), reason


def _similar_names(limit: int) -> Iterator[tuple[tuple[int, int], str]]:
    reason = _("similar name")
    if connection.vendor == "postgresql":
        # The `%` operator uses the trigram GIN index on UPPER(full_name) (migration 0003).
        table = Customer._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_limit(%s::real)", [NAME_SIMILARITY])
            cursor.execute(
                f"""
                SELECT a.id, b.id FROM {table} a JOIN {table} b
                  ON UPPER(a.full_name) %% UPPER(b.full_name) AND a.id < b.id
                WHERE a.anonymised_at IS NULL AND b.anonymised_at IS NULL
                ORDER BY similarity(UPPER(a.full_name), UPPER(b.full_name)) DESC, a.id, b.id
                LIMIT %s
                """,
                [limit],
            )
            for a, b in cursor.fetchall():
                yield (a, b), reason
        return
    # SQLite: no trigrams; the same name up to case and spacing, grouped in the database.
    groups = (
        Customer.objects.filter(anonymised_at__isnull=True)
        .annotate(upper=Upper("full_name"))
        .values("upper")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("upper")[:limit]
    )
    for group in groups:
        ids = sorted(
            Customer.objects.annotate(upper=Upper("full_name"))
            .filter(upper=group["upper"], anonymised_at__isnull=True)
            .values_list("pk", flat=True)
        )
        for later in ids[1:]:
            yield (ids[0], later), reason
