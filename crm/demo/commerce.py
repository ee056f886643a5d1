"""What demo customers bought, looked at, were offered and were reminded of, planned in memory.

Nothing here touches the database: the seeder saves the plan with bulk_create, in an order
that lets unsaved objects point at each other (Django fills the ids in as it saves).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal

from accounts.models import User
from crm.demo import vocabulary as words
from crm.demo.catalogue import CENTS, PRODUCTS, SPECS_BY_KEY, ProductSpec
from crm.demo.clock import DemoClock
from crm.demo.markers import CONTACT_ID_PREFIX, UNKNOWN_CALL_ID_PREFIX
from crm.demo.people import Profile
from crm.demo.phones import DEMO_MOBILE_CODES, russian_mobile, spell_russian
from customers.dates import add_months
from customers.models import (
    Channel,
    ContactPoint,
    Customer,
    Interaction,
    Interest,
    Offer,
    Product,
    Purchase,
    Reminder,
    SalesChannel,
)

HISTORY_DAYS = 730  # purchases go back two years
# Old models sold until about a year ago; their successors from about a year ago on.
OLD_MODEL_DAYS = (330, HISTORY_DAYS)
NEW_MODEL_DAYS = (0, 400)
LEAD_SHARE = 0.12  # customers who never bought
# Orders follow the buy-till-you-die story the CLV models assume (BG/NBD: Fader, Hardie & Lee
# 2005), so that `clv fit` on the demo learns sound parameters: each buyer has a buying rate
# (mean days between orders, drawn from a gamma distribution) and, after every order, a chance
# of never coming back (drawn from a beta distribution). Companies buy more often and stay longer.
# The first order falls anywhere in the history.
PERSON_DAYS_BETWEEN_ORDERS = (2.0, 120.0)  # gamma shape, mean days between orders
COMPANY_DAYS_BETWEEN_ORDERS = (3.0, 60.0)
PERSON_DROPOUT = (2.0, 6.0)  # beta(a, b): mean chance 0.25 of leaving after an order
COMPANY_DROPOUT = (1.5, 10.0)
MAX_ORDERS = 25  # a safety bound; the story rarely gets near it
BUNDLE_SHARE = 0.5  # a device order with accessories or services in the same basket
REFUNDED_SHARE = 0.04
CANCELLED_SHARE = 0.02
DISCOUNTS = (Decimal(0), Decimal(0), Decimal(0), Decimal("0.05"), Decimal("0.10"))
YEARLY_RENEWAL_SHARE = 0.7
MONTHLY_RUN_MAX = 3
SALES_CHANNEL_WEIGHTS: dict[str, int] = {
    SalesChannel.ONLINE: 45,
    SalesChannel.RETAIL: 20,
    SalesChannel.MARKETPLACE: 15,
    SalesChannel.PHONE: 10,
    SalesChannel.PARTNER: 5,
    SalesChannel.SALES_REP: 5,
}
INTEREST_COUNT_WEIGHTS = (45, 30, 15, 10)  # 0..3 per customer
INTEREST_KIND_WEIGHTS: dict[str, int] = {
    Interest.Kind.VIEW: 40,
    Interest.Kind.CART: 30,
    Interest.Kind.ENQUIRY: 15,
    Interest.Kind.QUOTE: 15,
}
INTEREST_DAYS = 365
FREE_TEXT_INTEREST = 0.08
CONVERTED_SHARE = 0.2
DISMISSED_SHARE = 0.15
OFFER_SHARE = 0.4  # buyers who were offered something by an operator
OFFER_RECENT_DAYS = 3  # offers younger than this are mostly still unanswered
ACCEPTED_SHARE = 0.35
DECLINED_SHARE = 0.45
WARRANTY_OFFER_WINDOW_DAYS = 90
SUPPORT_OFFER_WINDOW_DAYS = 60
REMINDER_LEAD_DAYS = 30  # reminders go out this many days before a term ends
REMINDER_WINDOW = (-10, 60)  # terms ending from 10 days ago to 60 days ahead get one
REMINDER_SEND_HOUR = 10
INTERACTION_COUNT_WEIGHTS = (15, 25, 25, 15, 10, 6, 4)  # 0..6 per customer
INTERACTION_DAYS = 365
CHANNEL_WEIGHTS: dict[str, int] = {
    Channel.PHONE: 35,
    Channel.EMAIL: 20,
    Channel.CHAT: 15,
    Channel.MESSENGER: 10,
    Channel.SMS: 5,
    Channel.VISIT: 5,
    Channel.SOCIAL: 5,
    Channel.WEB: 5,
}
INBOUND_SHARE = 0.75
# Nobody phones a customer "through the website"; these only ever come in.
CONTACT_KIND_OF_CHANNEL: dict[str, str] = {
    Channel.PHONE: ContactPoint.Kind.PHONE,
    Channel.SMS: ContactPoint.Kind.PHONE,
    Channel.EMAIL: ContactPoint.Kind.EMAIL,
    Channel.MESSENGER: ContactPoint.Kind.MESSENGER,
}
INBOUND_ONLY = frozenset({Channel.WEB, Channel.VISIT, Channel.SOCIAL})
ABANDONED_SHARE = 0.08
PERSONALISED_SHARE = 0.5
NOTE_SHARE = 0.2
UNKNOWN_CALLERS = 12
# Seconds a caller waits for an operator: log-normal, median about 40 s, a long tail.
WAIT_MU = 3.7
WAIT_SIGMA = 0.8
TALK_MINUTES = (2, 15)
SINCE_SLACK_DAYS = 60  # registered a little before the first recorded activity
ACTIVE_DAYS = 180
AT_RISK_DAYS = 365  # the churn window the metrics use by default
MAX_OFFERS_PER_CUSTOMER = 2
WARRANTY_EXTENSION_FOR = {"laptops": "ew-lap-1", "phones": "ew-phone-1"}
SUPPORT_RENEWAL_PRODUCT = "svc-care-12"


@dataclass
class CustomerPlan:
    """Everything planned for one customer besides tickets and surveys."""

    profile: Profile
    purchases: list[Purchase] = field(default_factory=list)
    interests: list[Interest] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)

    @property
    def customer(self) -> Customer:
        return self.profile.customer

    def completed_purchases(self) -> list[Purchase]:
        return [p for p in self.purchases if p.status == Purchase.Status.COMPLETED]


def _within(days_back: float, window: tuple[float, float]) -> bool:
    return window[0] <= days_back <= window[1]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


class CommercePlanner:
    """Plans purchases, interests, contacts, offers and reminders for each customer."""

    def __init__(
        self,
        *,
        seed: int,
        clock: DemoClock,
        products: dict[str, Product],
        operators: list[User],
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.products = products
        self.operators = operators
        self.buyable = [spec for spec in PRODUCTS if spec.kind != Product.Kind.WARRANTY_EXTENSION]
        self.on_sale = [spec for spec in PRODUCTS if spec.is_active]
        self.successor_keys = {spec.successor for spec in PRODUCTS if not spec.is_active}
        self.key_by_pk = {product.pk: key for key, product in products.items()}
        # Demo calls and chats carry a call / session ID as the PBX or chat would give them:
        # the waiting time and abandonment metrics read only such measured contacts.
        self.contact_ids = itertools.count(1)

    def rng(self, *parts: object) -> random.Random:
        return random.Random("/".join(str(part) for part in (self.seed, "commerce", *parts)))

    def plan(self, profile: Profile) -> CustomerPlan:
        """The purchases, interests, contacts, offers and reminders of one customer."""
        plan = CustomerPlan(profile=profile)
        rng = self.rng("customer", profile.index)
        company = profile.customer.kind == Customer.Kind.COMPANY
        if rng.random() >= LEAD_SHARE:
            mean_gap, dropout = self._buyer(rng, company=company)
            for days_back in self._order_days(rng, mean_gap=mean_gap, dropout=dropout):
                self._order(rng, plan, days_back=days_back, company=company, dropout=dropout)
        self._interests(self.rng("interests", profile.index), plan, lead=not plan.purchases)
        self._interactions(self.rng("contacts", profile.index), plan)
        self._offers(self.rng("offers", profile.index), plan)
        plan.purchases.sort(key=lambda p: p.purchased_at)
        self._reminders(plan)
        self._lifecycle(self.rng("since", profile.index), plan)
        return plan

    # --- purchases ----------------------------------------------------------------------------

    def _buyer(self, rng: random.Random, *, company: bool) -> tuple[float, float]:
        """One buyer's mean days between orders and chance of leaving after each order."""
        shape, mean_days = COMPANY_DAYS_BETWEEN_ORDERS if company else PERSON_DAYS_BETWEEN_ORDERS
        mean_gap = rng.gammavariate(shape, mean_days / shape)
        return mean_gap, rng.betavariate(*(COMPANY_DROPOUT if company else PERSON_DROPOUT))

    def _order_days(self, rng: random.Random, *, mean_gap: float, dropout: float) -> list[float]:
        """Days before the last close of one buyer's orders, oldest first (see MAX_ORDERS)."""
        days_back = rng.uniform(0, HISTORY_DAYS)
        days = [days_back]
        while len(days) < MAX_ORDERS and rng.random() >= dropout:
            days_back -= rng.expovariate(1 / mean_gap)
            if days_back < 0:
                break
            days.append(days_back)
        return days

    def _order(
        self,
        rng: random.Random,
        plan: CustomerPlan,
        *,
        days_back: float,
        company: bool,
        dropout: float,
    ) -> None:
        on_sale = [s for s in self.buyable if _within(days_back, self._sale_window(s))]
        spec = rng.choices(on_sale, [s.weight for s in on_sale])[0]
        when = self.clock.moment(rng, days_back, days_back)
        channel = _weighted(rng, SALES_CHANNEL_WEIGHTS)
        if company and rng.random() < BUNDLE_SHARE:
            channel = SalesChannel.SALES_REP
        lines = [spec]
        if spec.category in {"laptops", "phones"} and spec.related and rng.random() < BUNDLE_SHARE:
            extras = rng.sample(spec.related, min(len(spec.related), rng.randint(1, 2)))
            lines += [SPECS_BY_KEY[key] for key in extras]
        status = Purchase.Status.COMPLETED
        roll = rng.random()
        if roll < REFUNDED_SHARE:
            status = Purchase.Status.REFUNDED
        elif roll < REFUNDED_SHARE + CANCELLED_SHARE:
            status = Purchase.Status.CANCELLED
        for line in lines:
            quantity = rng.randint(1, 10) if company and line.category == "accessories" else 1
            plan.purchases.append(
                self._purchase(rng, plan, line, when, channel=channel, quantity=quantity)
            )
            plan.purchases[-1].status = status
        if spec.subscription_months and status == Purchase.Status.COMPLETED:
            self._renewals(rng, plan, spec, when, channel=channel, dropout=dropout)

    def _sale_window(self, spec: ProductSpec) -> tuple[float, float]:
        if not spec.is_active:
            return OLD_MODEL_DAYS
        if spec.key in self.successor_keys:
            return NEW_MODEL_DAYS
        return (0, HISTORY_DAYS)

    def _renewals(
        self,
        rng: random.Random,
        plan: CustomerPlan,
        spec: ProductSpec,
        start: dt.datetime,
        *,
        channel: str,
        dropout: float,
    ) -> None:
        """Renew a subscription on its anniversary, as long as that is in the past.

        A monthly subscriber cancels after each month with the buyer's own chance of leaving.
        """
        runs = 1
        if spec.subscription_months == 1:
            while runs < MONTHLY_RUN_MAX and rng.random() >= dropout:
                runs += 1
        if spec.subscription_months > 1 and rng.random() >= YEARLY_RENEWAL_SHARE:
            return
        start_day = self.clock.local_date(start)
        for period in range(1, runs + 1):
            day = add_months(start_day, spec.subscription_months * period)
            when = self.clock.at_local(day, start.astimezone(self.clock.zone).hour)
            if not self.clock.is_past(when):
                return
            plan.purchases.append(self._purchase(rng, plan, spec, when, channel=channel))

    def _purchase(
        self,
        rng: random.Random,
        plan: CustomerPlan,
        spec: ProductSpec,
        when: dt.datetime,
        *,
        channel: str,
        quantity: int = 1,
    ) -> Purchase:
        discount = rng.choice(DISCOUNTS)
        amount = (Decimal(spec.price) * quantity * (1 - discount)).quantize(CENTS)
        purchase = Purchase(
            customer=plan.customer,
            product=self.products[spec.key],
            quantity=quantity,
            amount=amount,
            channel=channel,
            purchased_at=when,
        )
        # bulk_create skips save(), which is where the end dates are derived.
        purchase.derive_end_dates()
        return purchase

    # --- interests ----------------------------------------------------------------------------

    def _interests(self, rng: random.Random, plan: CustomerPlan, *, lead: bool) -> None:
        count = rng.choices(range(len(INTEREST_COUNT_WEIGHTS)), INTEREST_COUNT_WEIGHTS)[0]
        if lead:
            count = max(count, 1)  # a lead is someone who showed interest
        company = plan.customer.kind == Customer.Kind.COMPANY
        for _interest in range(count):
            kind = _weighted(rng, INTEREST_KIND_WEIGHTS)
            spec = rng.choices(self.on_sale, [s.weight for s in self.on_sale])[0]
            free_text = rng.random() < FREE_TEXT_INTEREST
            occurred = self.clock.moment(rng, 0, INTEREST_DAYS)
            quantity = rng.randint(2, 20) if company and kind == Interest.Kind.QUOTE else 1
            interest = Interest(
                customer=plan.customer,
                product=None if free_text else self.products[spec.key],
                description=plan.profile.text(rng.choice(words.FREE_INTERESTS))
                if free_text
                else "",
                kind=kind,
                channel=self._interest_channel(rng, kind),
                quantity=quantity,
                amount=None
                if free_text or kind == Interest.Kind.VIEW
                else (Decimal(spec.price) * quantity).quantize(CENTS),
                occurred_at=occurred,
            )
            roll = rng.random()
            closing = self.clock.between(rng, occurred, occurred + dt.timedelta(days=14))
            if roll < CONVERTED_SHARE and not free_text and self.clock.is_past(closing):
                purchase = self._purchase(
                    rng, plan, spec, closing, channel=SalesChannel.ONLINE, quantity=quantity
                )
                plan.purchases.append(purchase)
                interest.status = Interest.Status.CONVERTED
                interest.purchase = purchase
                interest.closed_at = closing
            elif roll < CONVERTED_SHARE + DISMISSED_SHARE and self.clock.is_past(closing):
                interest.status = Interest.Status.DISMISSED
                interest.closed_at = closing
            plan.interests.append(interest)

    def _interest_channel(self, rng: random.Random, kind: str) -> str:
        if kind in {Interest.Kind.VIEW, Interest.Kind.CART}:
            return Channel.WEB
        if kind == Interest.Kind.QUOTE:
            return rng.choice((Channel.EMAIL, Channel.PHONE))
        return rng.choice((Channel.PHONE, Channel.CHAT, Channel.EMAIL, Channel.MESSENGER))

    # --- interactions -------------------------------------------------------------------------

    def _interactions(self, rng: random.Random, plan: CustomerPlan) -> None:
        count = rng.choices(range(len(INTERACTION_COUNT_WEIGHTS)), INTERACTION_COUNT_WEIGHTS)[0]
        for _contact in range(count):
            channel = _weighted(rng, CHANNEL_WEIGHTS)
            started = self.clock.moment(rng, 0, INTERACTION_DAYS)
            plan.interactions.append(
                self.contact(rng, plan.profile, channel=channel, started=started)
            )
        if rng.random() < NOTE_SHARE:
            plan.interactions.append(
                Interaction(
                    customer=plan.customer,
                    kind=Interaction.Kind.NOTE,
                    channel=Channel.INTERNAL,
                    direction=Interaction.Direction.INTERNAL,
                    started_at=self.clock.moment(rng, 0, INTERACTION_DAYS),
                    operator=rng.choice(self.operators),
                    summary=plan.profile.text(rng.choice(words.CUSTOMER_NOTES)),
                )
            )

    def contact(
        self,
        rng: random.Random,
        profile: Profile,
        *,
        channel: str,
        started: dt.datetime,
        inbound: bool | None = None,
        summary: str = "",
        abandon: bool = True,
    ) -> Interaction:
        """One contact on `channel`: inbound calls and chats wait, and some are abandoned.

        `abandon=False` for a contact that led somewhere (a ticket), so somebody answered it.
        """
        if inbound is None:
            inbound = channel in INBOUND_ONLY or (
                channel != Channel.SMS and rng.random() < INBOUND_SHARE
            )
        operator = rng.choice(self.operators)
        interaction = Interaction(
            customer=profile.customer,
            channel=channel,
            direction=Interaction.Direction.INBOUND if inbound else Interaction.Direction.OUTBOUND,
            contact_address=self._address(profile, channel),
            started_at=started,
            operator=operator,
            personalized=rng.random() < PERSONALISED_SHARE,
            summary=summary or profile.text(rng.choice(words.INTERACTION_SUMMARIES)),
        )
        wait = dt.timedelta(seconds=rng.lognormvariate(WAIT_MU, WAIT_SIGMA))
        talk = dt.timedelta(minutes=rng.uniform(*TALK_MINUTES))
        abandoned = abandon and inbound and rng.random() < ABANDONED_SHARE
        if channel in {Channel.PHONE, Channel.CHAT}:
            interaction.external_id = f"{CONTACT_ID_PREFIX}{next(self.contact_ids):07d}"
            if abandoned:
                interaction.operator = None
                interaction.personalized = False
                interaction.summary = ""
                interaction.ended_at = started + wait
            else:
                interaction.answered_at = started + (wait if inbound else wait / 4)
                interaction.ended_at = interaction.answered_at + talk
        elif channel == Channel.VISIT:
            interaction.answered_at = started
            interaction.ended_at = started + talk
        return interaction

    def _address(self, profile: Profile, channel: str) -> str:
        kind = CONTACT_KIND_OF_CHANNEL.get(channel)
        contact = profile.first_contact(kind) if kind else None
        return contact.value if contact else ""

    def unknown_calls(self, profiles_phones: set[str]) -> list[Interaction]:
        """Abandoned calls from numbers no customer has: the card has nobody to show."""
        rng = self.rng("unknown-calls")
        calls = []
        for number in range(UNKNOWN_CALLERS):
            e164 = russian_mobile(rng.choice(DEMO_MOBILE_CODES), rng.randrange(10**7))
            if e164 in profiles_phones:
                continue
            started = self.clock.moment(rng, 0, INTERACTION_DAYS)
            calls.append(
                Interaction(
                    customer=None,
                    channel=Channel.PHONE,
                    direction=Interaction.Direction.INBOUND,
                    contact_address=spell_russian(e164, number),
                    external_id=f"{UNKNOWN_CALL_ID_PREFIX}{number + 1:03d}",
                    started_at=started,
                    ended_at=started
                    + dt.timedelta(seconds=rng.lognormvariate(WAIT_MU, WAIT_SIGMA)),
                )
            )
        return calls

    # --- offers -------------------------------------------------------------------------------

    def _offers(self, rng: random.Random, plan: CustomerPlan) -> None:
        bought = [p for p in plan.purchases if p.status == Purchase.Status.COMPLETED]
        if not bought or rng.random() >= OFFER_SHARE:
            return
        candidates = self._offer_candidates(plan, bought)
        if not candidates:
            return
        picked = rng.sample(candidates, min(MAX_OFFERS_PER_CUSTOMER, len(candidates)))
        for rule, product, reason, since in picked:
            offered = self.clock.between(rng, since, self.clock.latest)
            call = self.contact(
                rng, plan.profile, channel=Channel.PHONE, started=offered, inbound=False
            )
            call.personalized = True
            offer = Offer(
                customer=plan.customer,
                product=product,
                rule=rule,
                reason=reason,
                offered_at=call.answered_at or offered,
                operator=call.operator or rng.choice(self.operators),
                interaction=call,
            )
            plan.interactions.append(call)
            responded = self.clock.between(
                rng, offer.offered_at, offer.offered_at + dt.timedelta(days=3)
            )
            roll = rng.random()
            recent = self.clock.days_ago(offer.offered_at) < OFFER_RECENT_DAYS
            if not recent and self.clock.is_past(responded) and roll < ACCEPTED_SHARE:
                offer.status = Offer.Status.ACCEPTED
                offer.responded_at = responded
                spec = SPECS_BY_KEY[self.key_by_pk[product.pk]]
                purchase = self._purchase(rng, plan, spec, responded, channel=SalesChannel.PHONE)
                plan.purchases.append(purchase)
                offer.purchase = purchase
            elif (
                not recent
                and self.clock.is_past(responded)
                and roll < ACCEPTED_SHARE + DECLINED_SHARE
            ):
                offer.status = Offer.Status.DECLINED
                offer.responded_at = responded
            plan.offers.append(offer)

    def _offer_candidates(
        self, plan: CustomerPlan, bought: list[Purchase]
    ) -> list[tuple[str, Product, str, dt.datetime]]:
        """(rule, product, reason, not before) for each recommendation that fits the history."""
        owned = {p.product_id for p in bought}
        out: list[tuple[str, Product, str, dt.datetime]] = []
        soon = self.clock.today + dt.timedelta(days=WARRANTY_OFFER_WINDOW_DAYS)
        for purchase in bought:
            assert purchase.product_id is not None  # every demo purchase names its product
            spec = SPECS_BY_KEY[self.key_by_pk[purchase.product_id]]
            product = self.products[spec.key]
            day = self.clock.local_date(purchase.purchased_at).isoformat()
            ends = purchase.warranty_ends_on
            extension = WARRANTY_EXTENSION_FOR.get(spec.category)
            if extension and ends and self.clock.today < ends <= soon:
                out.append(
                    (
                        Offer.Rule.WARRANTY_EXTENSION,
                        self.products[extension],
                        f"Warranty on {product.name} ends on {ends.isoformat()}: "
                        f"{self.products[extension].name}.",
                        max(
                            purchase.purchased_at,
                            self.clock.at_local(ends, 0)
                            - (dt.timedelta(days=WARRANTY_OFFER_WINDOW_DAYS)),
                        ),
                    )
                )
            support_ends = purchase.support_ends_on
            if support_ends and self.clock.today < support_ends <= soon:
                renewal = self.products[SUPPORT_RENEWAL_PRODUCT]
                out.append(
                    (
                        Offer.Rule.SUPPORT_RENEWAL,
                        renewal,
                        f"Support for {product.name} ends on {support_ends.isoformat()}.",
                        purchase.purchased_at,
                    )
                )
            if spec.successor and self.products[spec.successor].pk not in owned:
                new = self.products[spec.successor]
                out.append(
                    (
                        Offer.Rule.SUCCESSOR,
                        new,
                        f"Bought {product.name} on {day}; {new.name} replaces it.",
                        purchase.purchased_at,
                    )
                )
            for related_key in spec.related:
                related = self.products[related_key]
                if related.pk not in owned and related.is_active:
                    out.append(
                        (
                            Offer.Rule.CO_PURCHASE,
                            related,
                            f"Customers who bought {product.name} also buy {related.name}.",
                            purchase.purchased_at,
                        )
                    )
                    break
        for interest in plan.interests:
            if interest.status == Interest.Status.OPEN and interest.product is not None:
                out.append(
                    (
                        Offer.Rule.REVIVE_INTEREST,
                        interest.product,
                        f"{interest.get_kind_display()}: {interest.product.name}, "
                        f"{self.clock.local_date(interest.occurred_at).isoformat()}.",
                        interest.occurred_at,
                    )
                )
        return out

    # --- reminders ----------------------------------------------------------------------------

    def _reminders(self, plan: CustomerPlan) -> None:
        """A reminder for each term that ends soon (or just ended), sent or still to send."""
        customer = plan.customer
        today = self.clock.today
        for purchase in plan.completed_purchases():
            terms = (
                (Reminder.Kind.WARRANTY, purchase.warranty_ends_on),
                (Reminder.Kind.SUPPORT, purchase.support_ends_on),
                (Reminder.Kind.RENEWAL, purchase.subscription_ends_on),
            )
            for kind, ends_on in terms:
                if ends_on is None:
                    continue
                days_left = (ends_on - today).days
                if not REMINDER_WINDOW[0] <= days_left <= REMINDER_WINDOW[1]:
                    continue
                if kind == Reminder.Kind.RENEWAL and self._renewed(plan, purchase):
                    continue
                due_on = ends_on - dt.timedelta(days=REMINDER_LEAD_DAYS)
                reminder = Reminder(
                    customer=customer,
                    purchase=purchase,
                    kind=kind,
                    due_on=due_on,
                    ends_on=ends_on,
                    channel=customer.preferred_channel,
                )
                sent_at = self.clock.at_local(due_on, REMINDER_SEND_HOUR)
                if self.clock.is_past(sent_at):
                    if customer.consent_reminders:
                        reminder.delivery_status = Reminder.DeliveryStatus.SENT
                        reminder.sent_at = sent_at
                        reminder.attempts = 1
                        plan.interactions.append(self._reminder_sent(plan, reminder, purchase))
                    else:
                        reminder.delivery_status = Reminder.DeliveryStatus.SKIPPED
                        reminder.last_error = "No consent to service reminders."
                plan.reminders.append(reminder)

    def _renewed(self, plan: CustomerPlan, purchase: Purchase) -> bool:
        return any(
            p.product_id == purchase.product_id and p.purchased_at > purchase.purchased_at
            for p in plan.purchases
        )

    def _reminder_sent(
        self, plan: CustomerPlan, reminder: Reminder, purchase: Purchase
    ) -> Interaction:
        name = purchase.product.name if purchase.product else ""
        template = plan.profile.text(words.REMINDER_TEXTS[reminder.kind])
        summary = template.format(product=name, date=f"{reminder.ends_on:%d.%m.%Y}")
        channel = reminder.channel
        assert reminder.sent_at is not None  # set by the caller just before
        return Interaction(
            customer=plan.customer,
            kind=Interaction.Kind.REMINDER,
            channel=channel,
            direction=Interaction.Direction.OUTBOUND,
            contact_address=self._address(plan.profile, channel),
            started_at=reminder.sent_at,
            summary=summary,
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def _lifecycle(self, rng: random.Random, plan: CustomerPlan) -> None:
        """Customer since their first sign of life; lifecycle from their last purchase."""
        customer = plan.customer
        moments = [p.purchased_at for p in plan.purchases]
        moments += [i.occurred_at for i in plan.interests]
        moments += [i.started_at for i in plan.interactions]
        first = min(moments) if moments else self.clock.moment(rng, 0, INTEREST_DAYS)
        customer.customer_since = self.clock.local_date(first) - dt.timedelta(
            days=rng.randint(0, SINCE_SLACK_DAYS)
        )
        completed = plan.completed_purchases()
        if not completed:
            customer.lifecycle = Customer.Lifecycle.LEAD
            return
        today = self.clock.today
        last = max(self.clock.local_date(p.purchased_at) for p in completed)
        subscribed = any(
            p.subscription_ends_on and p.subscription_ends_on >= today for p in completed
        )
        idle = (today - last).days
        if idle <= ACTIVE_DAYS or subscribed:
            customer.lifecycle = Customer.Lifecycle.ACTIVE
        elif idle <= AT_RISK_DAYS:
            customer.lifecycle = Customer.Lifecycle.AT_RISK
        else:
            customer.lifecycle = Customer.Lifecycle.CHURNED
