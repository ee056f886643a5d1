"""Next best offers: what an operator can suggest to this customer now, and why.

Four rules, each computed by the database from the customer's history:

- successor: a product bought long ago (settings.CRM_SUCCESSOR_AFTER_DAYS) has a successor;
- co-purchase: other customers who bought what this one owns also bought Z (at least
  settings.CRM_CO_PURCHASE_MIN_CUSTOMERS of them, counted over all customers in
  customers.co_purchases.ProductCoPurchase);
- extension or renewal: a warranty, support contract or subscription ends within
  settings.CRM_EXPIRY_WARNING_DAYS: a warranty extension, support service or subscription of the
  same category or among the product's related products (or the subscription itself);
- revive interest: an open interest (cart, quote, enquiry, view) younger than
  settings.CRM_INTEREST_REVIVE_DAYS.

Products the customer owns are left out (a renewal excepted), and so are products whose offer
the customer declined within settings.CRM_DECLINED_OFFER_QUIET_DAYS. A fixed number of queries
whatever the length of the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from customers.co_purchases import partners
from customers.models import Customer, Interest, Offer, OwnedProduct, Product, Purchase
from customers.selectors import (
    among,
    customer_rows,
    expires_in_words,
    fixed_rows,
    terms_ending,
)

# Scores order the offers on the card; they are relative weights, not probabilities.
# An expiring term is the most timely offer: from EXPIRY_BASE up to EXPIRY_BASE + EXPIRY_URGENCY
# on its last day.
EXPIRY_BASE = 0.6
EXPIRY_URGENCY = 0.35
# A related product (named by the catalogue) fits better than one of the same category only.
RELATED_BONUS = 0.05
# A successor of a product long owned: a replacement is a strong, well-understood offer.
SUCCESSOR_SCORE = 0.7
# Co-purchase grows with the number of customers behind the pattern, up to a cap.
CO_PURCHASE_BASE = 0.3
CO_PURCHASE_PER_CUSTOMER = 0.01
CO_PURCHASE_MAX = 0.5
# Reviving an interest: a quote request or a full cart says more than a page view.
REVIVE_SCORES: dict[str, float] = {
    Interest.Kind.QUOTE: 0.8,
    Interest.Kind.CART: 0.75,
    Interest.Kind.ENQUIRY: 0.6,
    Interest.Kind.VIEW: 0.45,
}
# An interest loses up to a third of its weight as it ages towards CRM_INTEREST_REVIVE_DAYS.
REVIVE_AGE_DECAY = 0.3
# Candidates read per rule before the final ranking: enough to fill the card after exclusions.
CANDIDATES_PER_RULE = 20
# At most this many offers of one rule, so that one strong pattern does not hide the others.
MAX_PER_RULE = 2


@dataclass(frozen=True)
class Recommendation:
    """One next best offer: the product, the rule behind it, the reason in words, a score."""

    kind: str  # an Offer.Rule value
    product: Product
    reason: str
    score: float
    purchase_id: int | None = None
    interest_id: int | None = None


@dataclass(frozen=True)
class _Candidate:
    kind: str
    product_id: int
    score: float
    # The reason needs the offered product's name, known only after the final fetch.
    reason: Callable[[Product], str]
    purchase_id: int | None = None
    interest_id: int | None = None
    allow_owned: bool = False


def _day(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value)
    return formats.date_format(value, "SHORT_DATE_FORMAT")


# The statements of one customer's rules, built for any customer (and cut-off) and compiled
# once per process (customers.selectors.customer_rows): the card runs them on every open.


def _owned(customer_id: int) -> QuerySet[Any, Any]:
    """What the customer owns (completed purchases), kept per product by customers.values."""
    return (
        OwnedProduct.objects.filter(customer_id=customer_id)
        .values("product_id", "product__name", "product__successor_id")
        .annotate(last_bought=F("last_bought_at"))
        .order_by("product_id")
    )


def _declined(customer_id: int, since: dt.datetime) -> QuerySet[Offer, int]:
    return Offer.objects.filter(
        customer_id=customer_id,
        status=Offer.Status.DECLINED,
        responded_at__gte=since,
        product__isnull=False,
    ).values_list("product_id", flat=True)


def recommend(customer: Customer, *, now: dt.datetime, limit: int) -> list[Recommendation]:
    """The best `limit` offers for `customer` at `now`, best first, each with its reason."""
    owned_rows = customer_rows("owned products", _owned, customer.pk)
    owned = {row["product_id"]: row for row in owned_rows}
    quiet_since = now - dt.timedelta(days=settings.CRM_DECLINED_OFFER_QUIET_DAYS)
    declined = set(customer_rows("declined offers", _declined, customer.pk, values=(quiet_since,)))
    candidates = [
        *_successors(owned_rows, now=now),
        *_co_purchases(owned),
        *_extensions(customer, now=now),
        *_open_interests(customer, now=now),
    ]
    candidate_ids = sorted({c.product_id for c in candidates})
    products = (
        fixed_rows("offered products", _active_products, values=(candidate_ids,))
        if candidate_ids
        else []
    )
    by_id = {product.pk: product for product in products}
    best: dict[int, _Candidate] = {}
    for candidate in candidates:
        if candidate.product_id not in by_id or candidate.product_id in declined:
            continue
        if candidate.product_id in owned and not candidate.allow_owned:
            continue
        kept = best.get(candidate.product_id)
        if kept is None or candidate.score > kept.score:
            best[candidate.product_id] = candidate
    ranked: list[_Candidate] = []
    per_rule: dict[str, int] = {}
    for candidate in sorted(best.values(), key=lambda c: (-c.score, c.product_id)):
        if per_rule.get(candidate.kind, 0) >= MAX_PER_RULE or len(ranked) >= limit:
            continue
        per_rule[candidate.kind] = per_rule.get(candidate.kind, 0) + 1
        ranked.append(candidate)
    return [
        Recommendation(
            kind=c.kind,
            product=by_id[c.product_id],
            reason=c.reason(by_id[c.product_id]),
            score=round(c.score, 3),
            purchase_id=c.purchase_id,
            interest_id=c.interest_id,
        )
        for c in ranked
    ]


def _successor_reason(old_name: str, bought: dt.datetime) -> Callable[[Product], str]:
    def reason(product: Product) -> str:
        return _("Bought %(old)s on %(date)s; %(new)s replaces it.") % {
            "old": old_name,
            "date": _day(bought),
            "new": product.name,
        }

    return reason


def _co_purchase_reason(owned_name: str, buyers: int) -> Callable[[Product], str]:
    def reason(product: Product) -> str:
        return _(
            "Customers who bought %(owned)s also bought %(product)s (%(count)s customers)."
        ) % {"owned": owned_name, "product": product.name, "count": buyers}

    return reason


def _interest_reason(what: str, when: dt.datetime, channel: str) -> Callable[[Product], str]:
    def reason(product: Product) -> str:
        return _("%(what)s on %(date)s via %(channel)s, not bought yet: %(product)s.") % {
            "what": what,
            "date": _day(when),
            "channel": channel,
            "product": product.name,
        }

    return reason


def _successors(owned_rows: list[Any], *, now: dt.datetime) -> list[_Candidate]:
    """Successors of products whose last purchase is older than CRM_SUCCESSOR_AFTER_DAYS."""
    long_ago = now - dt.timedelta(days=settings.CRM_SUCCESSOR_AFTER_DAYS)
    found = []
    for row in owned_rows:
        if row["product__successor_id"] is None or row["last_bought"] > long_ago:
            continue
        old_name, bought = row["product__name"], row["last_bought"]
        found.append(
            _Candidate(
                kind=Offer.Rule.SUCCESSOR,
                product_id=row["product__successor_id"],
                score=SUCCESSOR_SCORE,
                reason=_successor_reason(old_name, bought),
            )
        )
    return found


def _active_products(ids: list[int]) -> QuerySet[Product]:
    return Product.objects.filter(among(Product, "pk", ids), is_active=True).select_related(
        "category"
    )


def _co_purchases(owned: dict[int, Any]) -> list[_Candidate]:
    """Products other buyers of the customer's products also bought, from the maintained
    counts (customers.co_purchases): one indexed query whatever the history."""
    if not owned:
        return []
    found = []
    for owned_id, product_id, buyers in partners(
        owned, min_customers=settings.CRM_CO_PURCHASE_MIN_CUSTOMERS, limit=CANDIDATES_PER_RULE
    ):
        found.append(
            _Candidate(
                kind=Offer.Rule.CO_PURCHASE,
                product_id=product_id,
                score=min(CO_PURCHASE_MAX, CO_PURCHASE_BASE + CO_PURCHASE_PER_CUSTOMER * buyers),
                reason=_co_purchase_reason(owned[owned_id]["product__name"], buyers),
            )
        )
    return found


# What ends, the kind of product that continues it, and the rule the offer is recorded under.
_TERMS = (
    ("warranty_ends_on", Product.Kind.WARRANTY_EXTENSION, Offer.Rule.WARRANTY_EXTENSION),
    ("support_ends_on", Product.Kind.SERVICE, Offer.Rule.SUPPORT_RENEWAL),
    ("subscription_ends_on", Product.Kind.SUBSCRIPTION, Offer.Rule.SUBSCRIPTION_RENEWAL),
)


def _term_reason(rule: str, owned_name: str, days: int) -> Callable[[Product], str]:
    def reason(product: Product) -> str:
        values = {"owned": owned_name, "expires": expires_in_words(days), "product": product.name}
        if rule == Offer.Rule.WARRANTY_EXTENSION:
            # Translators: %(expires)s is "expires today", "expires in 5 days" and so on.
            return _("Warranty on %(owned)s %(expires)s: %(product)s.") % values
        if rule == Offer.Rule.SUPPORT_RENEWAL:
            return _("Support for %(owned)s %(expires)s: %(product)s.") % values
        return _("Subscription %(owned)s %(expires)s: renew with %(product)s.") % values

    return reason


def _ending(customer_id: int, today: dt.date, horizon: dt.date) -> QuerySet[Any]:
    return (
        Purchase.objects.filter(
            pk__in=terms_ending(customer_id, today, horizon), product__isnull=False
        )
        .values(
            "id",
            "product_id",
            "product__name",
            "product__kind",
            "product__category_id",
            *(field for field, _kind, _rule in _TERMS),
        )
        .order_by("warranty_ends_on", "id")[:CANDIDATES_PER_RULE]
    )


def _extension_products(categories: list[int], product_ids: list[int]) -> QuerySet[Any]:
    """Active extensions and renewals in these categories or related to these products."""
    return (
        Product.objects.filter(
            among(Product, "category_id", categories)
            | among(Product, "related_to__id", product_ids),
            is_active=True,
            kind__in=[kind for _field, kind, _rule in _TERMS],
        )
        .values("id", "kind", "category_id", "related_to__id")
        .distinct()[: CANDIDATES_PER_RULE * len(_TERMS)]
    )


def _extensions(customer: Customer, *, now: dt.datetime) -> list[_Candidate]:
    """Extensions and renewals for warranties, support and subscriptions that end soon."""
    today = timezone.localdate(now)
    window = settings.CRM_EXPIRY_WARNING_DAYS
    horizon = today + dt.timedelta(days=window)
    purchases = customer_rows("ending terms", _ending, customer.pk, values=(today, horizon))
    if not purchases:
        return []
    categories = sorted({p["product__category_id"] for p in purchases} - {None})
    product_ids = sorted({p["product_id"] for p in purchases} - {None})
    offers = fixed_rows("term extensions", _extension_products, values=(categories, product_ids))
    found = []
    for purchase in purchases:
        for field, kind, rule in _TERMS:
            ends_on = purchase[field]
            if ends_on is None or not today <= ends_on <= horizon:
                continue
            days = (ends_on - today).days
            score = EXPIRY_BASE + EXPIRY_URGENCY * (1 - days / window if window else 1)
            reason = _term_reason(rule, purchase["product__name"], days)
            if kind == Product.Kind.SUBSCRIPTION and purchase["product__kind"] == kind:
                # The subscription itself renews: the one case where owning it is the point.
                found.append(
                    _Candidate(
                        kind=rule,
                        product_id=purchase["product_id"],
                        score=score + RELATED_BONUS,
                        reason=reason,
                        purchase_id=purchase["id"],
                        allow_owned=True,
                    )
                )
            for offer in offers:
                if offer["kind"] != kind or offer["id"] == purchase["product_id"]:
                    continue
                related = offer["related_to__id"] == purchase["product_id"]
                same_category = offer["category_id"] == purchase["product__category_id"]
                if not (related or same_category):
                    continue
                found.append(
                    _Candidate(
                        kind=rule,
                        product_id=offer["id"],
                        score=score + (RELATED_BONUS if related else 0.0),
                        reason=reason,
                        purchase_id=purchase["id"],
                        allow_owned=True,
                    )
                )
    return found


def _young_interests(customer_id: int, since: dt.datetime) -> QuerySet[Interest]:
    return Interest.objects.filter(
        customer_id=customer_id,
        status=Interest.Status.OPEN,
        product__isnull=False,
        occurred_at__gte=since,
    ).order_by("-occurred_at", "-id")[:CANDIDATES_PER_RULE]


def _open_interests(customer: Customer, *, now: dt.datetime) -> list[_Candidate]:
    """Open interests young enough to revive, freshest first."""
    revive_days = settings.CRM_INTEREST_REVIVE_DAYS
    interests = customer_rows(
        "young interests",
        _young_interests,
        customer.pk,
        values=(now - dt.timedelta(days=revive_days),),
    )
    found = []
    for interest in interests:
        age_days = max(0, (now - interest.occurred_at).days)
        base = REVIVE_SCORES.get(interest.kind, min(REVIVE_SCORES.values()))
        score = base * (1 - REVIVE_AGE_DECAY * min(1.0, age_days / revive_days))
        what, when, channel = (
            interest.get_kind_display(),
            interest.occurred_at,
            interest.get_channel_display(),
        )
        found.append(
            _Candidate(
                kind=Offer.Rule.REVIVE_INTEREST,
                product_id=interest.product_id,
                score=score,
                reason=_interest_reason(what, when, channel),
                interest_id=interest.pk,
            )
        )
    return found
