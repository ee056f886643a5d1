"""The rows generate_data writes: one customer at a time, with ids, as plain tuples.

Rules that `save()` or the services would apply are applied here directly (and the tests
check them against the real ones): purchase end dates as `Purchase.derive_end_dates`,
ticket timestamps as the ticket check constraints demand, phones in E.164 without calling
`phonenumbers` per row. Vocabulary pairs are (English, Russian), so `pair[russian]` picks the
customer's language.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Model

from core.outbox.models import DeliveryStatus
from crm.demo import vocabulary as words
from crm.demo.bulk_tables import (
    CONTACT,
    CUSTOMER,
    EVENT,
    INTERACTION,
    INTEREST,
    INVITATION,
    MESSAGE,
    OFFER,
    PURCHASE,
    RESPONSE,
    TABLES,
    TICKET,
    TICKET_CONTACT,
)
from crm.demo.catalogue import CENTS
from crm.demo.phones import BULK_CAPACITY, RUSSIAN_SPELLINGS, bulk_mobile, spell_russian
from crm.demo.service import comment_sentiment
from crm.demo.writers import Columns, Row
from customers.dates import add_months
from customers.models import (
    AcquisitionChannel,
    Channel,
    ContactPoint,
    Customer,
    Interaction,
    Interest,
    Offer,
    Purchase,
    SalesChannel,
)
from surveys.models import Survey, SurveyInvitation, SurveyResponse, generate_token
from tickets.models import Priority, Status, Ticket, TicketContact, TicketEvent, TicketMessage
from tickets.sla import at_risk_offset

EXTERNAL_ID_PREFIX = "gen-"  # + the customer's primary key: unique across runs by design
GENERATED_CONTACT_ID_PREFIX = f"{EXTERNAL_ID_PREFIX}contact-"  # + the interaction's key
PHONES_PER_CUSTOMER = 2  # phone index space reserved per customer id

DAY = 24 * 60 * 60
HISTORY_SECONDS = 730 * DAY  # purchases over two years
RECENT_SECONDS = 365 * DAY  # contacts, interests and tickets over one
CUSTOMER_SINCE_DAYS = 1095
COMPANY_SHARE = 0.05
EMAIL_SHARE = 0.6
MESSENGER_SHARE = 0.25
PURCHASES_MAX_HALF = 3  # purchases = two draws from 0..3: 0..6, three on average
REFUNDED_SHARE, CANCELLED_SHARE = 0.04, 0.02
DISCOUNTED_SHARE, DISCOUNT = 0.2, Decimal("0.9")
INTEREST_SHARE = 0.45
CONVERTED_SHARE, DISMISSED_SHARE = 0.15, 0.2
INTERACTIONS_MAX = 4  # 0..4 per customer, two on average
INBOUND_SHARE = 0.75
ABANDONED_SHARE = 0.08
PERSONALISED_SHARE = 0.5
WAIT_MU, WAIT_SIGMA = 3.7, 0.8  # seconds in the queue, log-normal, median about 40 s
TALK_SECONDS = (60, 900)
TICKET_ONE_SHARE, TICKET_TWO_SHARE = 0.35, 0.1
EXTRA_CONTACT_SHARE = 0.2
# A support queue always has work in it: this share of tickets is days old, mostly unresolved.
FRESH_TICKET_SHARE = 0.15
FRESH_TICKET_SECONDS = 3 * DAY
REOPENED_SHARE = 0.05
OFFER_SHARE = 0.25
CSAT_SHARE, CES_SHARE, NPS_SHARE = 0.7, 0.3, 0.1
ANSWER_SHARE = 0.6
COMMENT_SHARE = 0.3
CONTENT_SHARE = 0.6  # answers leaning to the satisfied end of the scale, as real ones do
ANSWER_HOURS_MU, ANSWER_HOURS_SIGMA = 1.0, 1.2  # median under 3 hours after sending
RUSSIAN_SHARE = 0.5
MARKETING_CONSENT_SHARE = 0.4
ACCEPTED_SHARE = 0.35
STALLED_SHARE = 0.5  # unresolved tickets waiting on the customer (pending) rather than on us
MIN_WORK_MINUTES = 5
INTEREST_CLOSES_WITHIN = 14 * DAY
OFFER_ANSWERED_WITHIN = 3 * DAY
OFFER_REASON = "Fits what the customer already owns."
SURVEY_DELAY = dt.timedelta(minutes=10)
SEND_DELAY = dt.timedelta(minutes=1)
ACTIVE_DAYS, AT_RISK_DAYS = 180, 365
FIRST_RESPONSE_MU, FIRST_RESPONSE_SIGMA = -1.2, 0.8  # share of the SLA target, log-normal
RESOLUTION_MU, RESOLUTION_SIGMA = -0.9, 0.75
CLOSE_AFTER_DAYS = (2, 7)

CHANNELS = [c.value for c in (Channel.PHONE, Channel.EMAIL, Channel.CHAT, Channel.MESSENGER)]
TICKET_CHANNELS = [*CHANNELS, Channel.WEB.value]
SALES_CHANNELS = [c.value for c in SalesChannel]
ACQUISITION = [c.value for c in AcquisitionChannel]
PRIORITIES = [Priority.LOW.value] * 2 + [Priority.NORMAL.value] * 5 + [Priority.HIGH.value] * 2
PRIORITIES.append(Priority.URGENT.value)
INTEREST_KINDS = [k.value for k in Interest.Kind]
OFFER_RULES = [Offer.Rule.CO_PURCHASE.value, Offer.Rule.SUCCESSOR.value, Offer.Rule.MANUAL.value]


@dataclass(frozen=True)
class CatalogueLine:
    """What the generator needs of a product, without touching the model per row."""

    id: int
    price: Decimal
    warranty_months: int
    support_months: int
    subscription_months: int
    is_active: bool


@dataclass
class BulkContext:
    """What every batch shares: the clock, the random source, ids, catalogue, staff, SLA."""

    rng: random.Random
    now: dt.datetime
    zone: zoneinfo.ZoneInfo
    today: dt.date
    currency: str
    next_id: Callable[[type[Model]], int]
    catalogue: list[CatalogueLine]
    cumulative_weights: list[int]
    on_sale: list[CatalogueLine]
    surveys: dict[str, Survey]
    # priority -> (policy id, first response minutes, resolution minutes)
    policies: dict[str, tuple[int, int, int]]
    # (user id, team id) of each operator; (None, None) when there is nobody
    operators: list[tuple[int | None, int | None]]

    def end_date(self, purchased_at: dt.datetime, months: int) -> dt.date | None:
        """The same as Purchase.derive_end_dates: months from the local purchase day."""
        if not months:
            return None
        return add_months(purchased_at.astimezone(self.zone).date(), months)


class BatchRows:
    """The rows of one batch, table by table, drawn customer by customer."""

    def __init__(self, context: BulkContext) -> None:
        self.g = context
        self.rng = context.rng
        self.rows: dict[Columns, list[Row]] = {columns: [] for columns in TABLES}
        self.next_id = context.next_id

    def ago(self, seconds: float) -> dt.datetime:
        """The moment `seconds` before now."""
        return self.g.now - dt.timedelta(seconds=seconds)

    def product(self) -> CatalogueLine:
        """A product drawn by how often it sells."""
        roll = self.rng.random() * self.g.cumulative_weights[-1]
        return self.g.catalogue[bisect.bisect_right(self.g.cumulative_weights, roll)]

    def customer(self) -> None:
        """One customer with everything they did, appended table by table."""
        rng, now = self.rng, self.g.now
        customer_id = self.next_id(Customer)
        russian = rng.random() < RUSSIAN_SHARE
        first = rng.choice(words.RU_FIRST_NAMES if russian else words.EN_FIRST_NAMES)
        surname = rng.choice(words.RU_SURNAMES if russian else words.EN_SURNAMES)
        company = rng.random() < COMPANY_SHARE
        if company:
            full_name = rng.choice(words.RU_COMPANIES if russian else words.EN_COMPANIES)
        else:
            full_name = f"{first.text} {surname.female if first.female else surname.male}"
        latin = f"{first.latin}.{surname.latin_female if first.female else surname.latin_male}"
        contacts = self.contacts(customer_id, latin)
        has_email = any("@" in value for value in contacts)
        purchases = self.purchases(customer_id)
        self.interests(customer_id, purchases)
        self.interactions(customer_id, russian, contacts)
        self.tickets(customer_id, russian)
        self.offers(customer_id, purchases)
        self.nps(customer_id, purchases)
        completed = [when for when, status in purchases if status == Purchase.Status.COMPLETED]
        since = self.g.today - dt.timedelta(days=rng.randrange(CUSTOMER_SINCE_DAYS))
        if completed:
            since = min(since, min(completed).astimezone(self.g.zone).date())
        channel = rng.choice(ACQUISITION)
        self.rows[CUSTOMER].append(
            (
                customer_id,
                Customer.Kind.COMPANY if company else Customer.Kind.PERSON,
                full_name,
                "",
                f"{EXTERNAL_ID_PREFIX}{customer_id:09d}",
                "ru" if russian else "en",
                "",
                Customer.Segment.SMALL_BUSINESS if company else Customer.Segment.CONSUMER,
                self.lifecycle(completed),
                channel,
                rng.choice(words.CAMPAIGNS.get(channel, [""])),
                since,
                Channel.EMAIL if has_email else Channel.SMS,
                True,
                rng.random() < MARKETING_CONSENT_SHARE,
                "",
                now,
                now,
            )
        )

    def lifecycle(self, completed: list[dt.datetime]) -> str:
        """Lead, active, at risk or churned, from the last completed purchase."""
        if not completed:
            return Customer.Lifecycle.LEAD
        idle = (self.g.now - max(completed)).days
        if idle <= ACTIVE_DAYS:
            return Customer.Lifecycle.ACTIVE
        return Customer.Lifecycle.AT_RISK if idle <= AT_RISK_DAYS else Customer.Lifecycle.CHURNED

    def contacts(self, customer_id: int, latin: str) -> list[str]:
        """A phone always, often an email, sometimes a messenger; returns the typed values."""
        rng, now = self.rng, self.g.now
        phone_index = customer_id * PHONES_PER_CUSTOMER
        if phone_index >= BULK_CAPACITY:
            raise RuntimeError("customer ids beyond the generated phone number space")
        e164 = bulk_mobile(phone_index)
        typed = spell_russian(e164, rng.randrange(RUSSIAN_SPELLINGS))
        rows = self.rows[CONTACT]
        kind = ContactPoint.Kind
        rows.append((self.next_id(ContactPoint), customer_id, kind.PHONE, typed, e164, "", "mobile",
                     True, now))  # fmt: skip
        values = [typed]
        if rng.random() < EMAIL_SHARE:
            email = f"{latin}.{customer_id}@example.com"
            rows.append((self.next_id(ContactPoint), customer_id, kind.EMAIL, email, email, "",
                         "", True, now))  # fmt: skip
            values.append(email)
        if rng.random() < MESSENGER_SHARE:
            rows.append((self.next_id(ContactPoint), customer_id, kind.MESSENGER, e164, e164,
                         ContactPoint.Messenger.WHATSAPP, "", True, now))  # fmt: skip
            values.append(e164)
        return values

    def purchases(self, customer_id: int) -> list[tuple[dt.datetime, str]]:
        """Zero to six purchases over two years; returns (when, status) of each."""
        rng = self.rng
        count = rng.randint(0, PURCHASES_MAX_HALF) + rng.randint(0, PURCHASES_MAX_HALF)
        made: list[tuple[dt.datetime, str]] = []
        for _purchase in range(count):
            line = self.product()
            when = self.ago(rng.random() * HISTORY_SECONDS)
            roll = rng.random()
            status = Purchase.Status.COMPLETED
            if roll < REFUNDED_SHARE:
                status = Purchase.Status.REFUNDED
            elif roll < REFUNDED_SHARE + CANCELLED_SHARE:
                status = Purchase.Status.CANCELLED
            amount = line.price if rng.random() >= DISCOUNTED_SHARE else line.price * DISCOUNT
            self.purchase_row(customer_id, line, when, status, amount.quantize(CENTS))
            made.append((when, status))
        return made

    def purchase_row(
        self,
        customer_id: int,
        line: CatalogueLine,
        when: dt.datetime,
        status: str,
        amount: Decimal,
    ) -> int:
        """One purchase row with its terms derived; returns its id."""
        purchase_id = self.next_id(Purchase)
        g = self.g
        self.rows[PURCHASE].append(
            (
                purchase_id,
                customer_id,
                line.id,
                "",
                1,
                amount,
                g.currency,
                self.rng.choice(SALES_CHANNELS),
                status,
                when,
                g.end_date(when, line.warranty_months),
                g.end_date(when, line.support_months),
                g.end_date(when, line.subscription_months),
                g.now,
                g.now,
            )
        )
        return purchase_id

    def interests(self, customer_id: int, purchases: list[tuple[dt.datetime, str]]) -> None:
        """Products looked at and not bought; some converted into a purchase."""
        rng, g = self.rng, self.g
        if rng.random() >= INTEREST_SHARE:
            return
        for _interest in range(rng.randint(1, 2)):
            line = rng.choice(g.on_sale)
            kind = rng.choice(INTEREST_KINDS)
            occurred = self.ago(rng.random() * RECENT_SECONDS)
            closing = occurred + dt.timedelta(seconds=rng.random() * INTEREST_CLOSES_WITHIN)
            roll = rng.random()
            status, closed_at, purchase_id = Interest.Status.OPEN, None, None
            if closing < g.now and roll < CONVERTED_SHARE:
                status, closed_at = Interest.Status.CONVERTED, closing
                purchase_id = self.purchase_row(
                    customer_id, line, closing, Purchase.Status.COMPLETED, line.price
                )
                purchases.append((closing, Purchase.Status.COMPLETED))
            elif closing < g.now and roll < CONVERTED_SHARE + DISMISSED_SHARE:
                status, closed_at = Interest.Status.DISMISSED, closing
            channel = Channel.WEB if kind in {"view", "cart"} else rng.choice(CHANNELS)
            amount = None if kind == Interest.Kind.VIEW else line.price
            self.rows[INTEREST].append(
                (
                    self.next_id(Interest), customer_id, line.id, "", "", kind, channel, status, 1,
                    amount, g.currency, occurred, purchase_id, closed_at, g.now, g.now,
                )
            )  # fmt: skip

    def interaction(
        self,
        customer_id: int,
        channel: str,
        started: dt.datetime,
        address: str,
        summary: str,
        *,
        inbound: bool,
        answered: bool = True,
    ) -> int:
        """One contact; inbound calls and chats wait in a queue and may be abandoned."""
        rng, g = self.rng, self.g
        operator_id, _team_id = rng.choice(g.operators)
        wait = dt.timedelta(seconds=rng.lognormvariate(WAIT_MU, WAIT_SIGMA))
        answered_at = ended_at = None
        if channel in {Channel.PHONE, Channel.CHAT}:
            if inbound and not answered:
                ended_at = started + wait
                operator_id = None
            else:
                answered_at = started + wait
                ended_at = answered_at + dt.timedelta(seconds=rng.uniform(*TALK_SECONDS))
        interaction_id = self.next_id(Interaction)
        # Calls and chats carry the ID their system gave them: the waiting time and
        # abandonment metrics read only such measured contacts.
        measured = channel in {Channel.PHONE, Channel.CHAT}
        self.rows[INTERACTION].append(
            (
                interaction_id,
                customer_id,
                Interaction.Kind.CONTACT,
                channel,
                Interaction.Direction.INBOUND if inbound else Interaction.Direction.OUTBOUND,
                address,
                f"{GENERATED_CONTACT_ID_PREFIX}{interaction_id}" if measured else "",
                started,
                answered_at,
                ended_at,
                operator_id,
                operator_id is not None and rng.random() < PERSONALISED_SHARE,
                summary,
                g.now,
                g.now,
            )
        )
        return interaction_id

    def interactions(self, customer_id: int, russian: bool, contacts: list[str]) -> None:
        """Contacts on the common channels that led to no ticket."""
        rng = self.rng
        for _contact in range(rng.randint(0, INTERACTIONS_MAX)):
            channel = rng.choice(CHANNELS)
            inbound = rng.random() < INBOUND_SHARE
            self.interaction(
                customer_id,
                channel,
                self.ago(rng.random() * RECENT_SECONDS),
                contacts[0] if channel == Channel.PHONE else "",
                rng.choice(words.INTERACTION_SUMMARIES)[russian],
                inbound=inbound,
                answered=rng.random() >= ABANDONED_SHARE,
            )

    def offers(self, customer_id: int, purchases: list[tuple[dt.datetime, str]]) -> None:
        """Sometimes an offer an operator made, and what the customer said."""
        rng, g = self.rng, self.g
        if not purchases or rng.random() >= OFFER_SHARE:
            return
        offered = self.ago(rng.random() * RECENT_SECONDS)
        responded = offered + dt.timedelta(seconds=rng.random() * OFFER_ANSWERED_WITHIN)
        roll = rng.random()
        status = Offer.Status.OFFERED
        if responded < g.now:
            status = Offer.Status.ACCEPTED if roll < ACCEPTED_SHARE else Offer.Status.DECLINED
        line = rng.choice(g.on_sale)
        self.rows[OFFER].append(
            (
                self.next_id(Offer),
                customer_id,
                line.id,
                rng.choice(OFFER_RULES),
                OFFER_REASON,
                status,
                offered,
                None if status == Offer.Status.OFFERED else responded,
                rng.choice(g.operators)[0],
            )
        )

    def tickets(self, customer_id: int, russian: bool) -> None:
        """None, one or two tickets."""
        rng = self.rng
        roll = rng.random()
        count = 2 if roll < TICKET_TWO_SHARE else 1 if roll < TICKET_ONE_SHARE else 0
        for _ticket in range(count):
            self.ticket(customer_id, russian)

    def ticket(self, customer_id: int, russian: bool) -> None:
        """A ticket whose status and timestamps agree with the ticket check constraints."""
        rng, g = self.rng, self.g
        fresh = rng.random() < FRESH_TICKET_SHARE
        created = self.ago(rng.random() * (FRESH_TICKET_SECONDS if fresh else RECENT_SECONDS))
        priority = rng.choice(PRIORITIES)
        policy_id, first_target, resolution_target = g.policies[priority]
        channel = rng.choice(TICKET_CHANNELS)
        operator_id, team_id = rng.choice(g.operators)
        subject = rng.choice(words.TICKET_SUBJECTS)[russian]
        first_delay = first_target * rng.lognormvariate(FIRST_RESPONSE_MU, FIRST_RESPONSE_SIGMA)
        resolution_delay = max(
            resolution_target * rng.lognormvariate(RESOLUTION_MU, RESOLUTION_SIGMA),
            first_delay + MIN_WORK_MINUTES,
        )
        first_response = created + dt.timedelta(minutes=first_delay)
        resolved = created + dt.timedelta(minutes=resolution_delay)
        closed = resolved + dt.timedelta(days=rng.uniform(*CLOSE_AFTER_DAYS))
        contacts = 1 + (rng.randint(1, 2) if rng.random() < EXTRA_CONTACT_SHARE else 0)
        reopened = 1 if rng.random() < REOPENED_SHARE else 0
        stalled = rng.random() < STALLED_SHARE
        now = g.now
        events: list[tuple[str, str, dt.datetime]] = [("", Status.NEW, created)]
        if first_response >= now:
            status, first_response_at, resolved_at, closed_at = Status.NEW, None, None, None
        else:
            first_response_at = first_response
            events.append((Status.NEW, Status.OPEN, first_response))
            if resolved >= now:
                status, resolved_at, closed_at = Status.OPEN, None, None
                if stalled:
                    status = Status.PENDING
                    events.append((Status.OPEN, Status.PENDING, first_response))
            else:
                if reopened:  # resolved once half-way, reopened by the customer at once
                    halfway = first_response + (resolved - first_response) / 2
                    events.append((Status.OPEN, Status.RESOLVED, halfway))
                    events.append((Status.RESOLVED, Status.OPEN, halfway))
                events.append((Status.OPEN, Status.RESOLVED, resolved))
                status, resolved_at, closed_at = Status.RESOLVED, resolved, None
                if closed < now:
                    status, closed_at = Status.CLOSED, closed
                    events.append((Status.RESOLVED, Status.CLOSED, closed))
        ticket_id = self.next_id(Ticket)
        self.rows[TICKET].append(
            (
                ticket_id, customer_id, subject, channel, status, priority, operator_id, team_id,
                "", rng.random() < PERSONALISED_SHARE, contacts,
                reopened if resolved_at else 0, policy_id,
                created + dt.timedelta(minutes=first_target),
                created + dt.timedelta(minutes=resolution_target),
                created, first_response_at, resolved_at, closed_at, now,
                created + at_risk_offset(dt.timedelta(minutes=first_target)),
                created + at_risk_offset(dt.timedelta(minutes=resolution_target)),
            )
        )  # fmt: skip
        last_contact = resolved_at or now
        for number in range(contacts):
            started = created if number == 0 else created + (last_contact - created) * rng.random()
            interaction_id = self.interaction(
                customer_id, channel, started, "", subject, inbound=True
            )
            self.rows[TICKET_CONTACT].append(
                (self.next_id(TicketContact), ticket_id, interaction_id, now)
            )
        messages = self.rows[MESSAGE]
        messages.append((self.next_id(TicketMessage), ticket_id, TicketMessage.Author.CUSTOMER,
                         None, subject, False, channel, created, ""))  # fmt: skip
        if first_response_at:
            reply = rng.choice(words.OPERATOR_REPLIES)[russian]
            messages.append((self.next_id(TicketMessage), ticket_id, TicketMessage.Author.OPERATOR,
                             operator_id, reply, False, channel, first_response_at,
                             ""))  # fmt: skip
        if resolved_at:
            note = rng.choice(words.RESOLUTION_NOTES)[russian]
            messages.append((self.next_id(TicketMessage), ticket_id, TicketMessage.Author.OPERATOR,
                             operator_id, note, False, channel, resolved_at, ""))  # fmt: skip
        for from_value, to_value, at in events:
            kind = TicketEvent.Kind.STATUS if from_value else TicketEvent.Kind.CREATED
            self.rows[EVENT].append(
                (self.next_id(TicketEvent), ticket_id, kind, operator_id, from_value, to_value, at)
            )
        if resolved_at and rng.random() < CSAT_SHARE:
            survey_day = resolved_at + SURVEY_DELAY
            self.invite(customer_id, Survey.Kind.CSAT, survey_day, ticket_id, operator_id,
                        channel, russian)  # fmt: skip
            if rng.random() < CES_SHARE:
                self.invite(customer_id, Survey.Kind.CES, survey_day + SURVEY_DELAY, ticket_id,
                            operator_id, channel, russian)  # fmt: skip

    def nps(self, customer_id: int, purchases: list[tuple[dt.datetime, str]]) -> None:
        """Sometimes a periodic NPS invitation for a customer who bought."""
        rng = self.rng
        if purchases and rng.random() < NPS_SHARE:
            self.invite(customer_id, Survey.Kind.NPS, self.ago(rng.random() * RECENT_SECONDS),
                        None, None, "", rng.random() < RUSSIAN_SHARE)  # fmt: skip

    def invite(
        self,
        customer_id: int,
        kind: str,
        created: dt.datetime,
        ticket_id: int | None,
        operator_id: int | None,
        channel: str,
        russian: bool,
    ) -> None:
        """An invitation, sent, answered in most cases with a score and sometimes a comment."""
        rng, g = self.rng, self.g
        survey = g.surveys[kind]
        score = rng.randint(survey.scale_min, survey.scale_max)
        # Most people who answer are content: lean the score towards the top of the scale.
        if rng.random() < CONTENT_SHARE:
            score = max(score, rng.randint(survey.satisfied_threshold, survey.scale_max))
        answered_after = dt.timedelta(hours=rng.lognormvariate(ANSWER_HOURS_MU, ANSWER_HOURS_SIGMA))
        answers = rng.random() < ANSWER_SHARE
        comment_roll = rng.random()
        sent_at = created + SEND_DELAY
        if sent_at >= g.now:
            return
        invitation_id = self.next_id(SurveyInvitation)
        expires = created + dt.timedelta(days=survey.invitation_ttl_days)
        cause = f"ticket:{ticket_id}" if ticket_id else f"periodic:{created:%Y-%m}"
        self.rows[INVITATION].append(
            (
                invitation_id, survey.pk, customer_id, generate_token(), cause, ticket_id,
                operator_id, channel, False, Channel.EMAIL, DeliveryStatus.SENT, 1, "", created,
                sent_at, expires, uuid.uuid4(),
            )
        )  # fmt: skip
        answered_at = sent_at + answered_after
        if not answers or answered_at >= g.now or answered_at >= expires:
            return
        comment, sentiment = "", ""
        if comment_roll < COMMENT_SHARE:
            sentiment = comment_sentiment(survey, score)
            comment = rng.choice(words.COMMENTS[sentiment])[russian]
        self.rows[RESPONSE].append(
            (self.next_id(SurveyResponse), invitation_id, score, comment, sentiment, answered_at)
        )
