"""Demo tickets and survey answers, made through the services so every rule applies.

Tickets are opened with `open_ticket`, moved with `change_ticket_status` and talked through
with `add_message` / `record_customer_contact`, each at its own moment in the past, so first
responses, resolutions, reopenings, closings and the event history agree with each other.
Survey invitations and answers go through `create_invitation` and `record_response`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from accounts.models import User
from crm.demo import vocabulary as words
from crm.demo.clock import DemoClock
from crm.demo.commerce import CommercePlanner, CustomerPlan
from crm.demo.markers import DEMO_NAME_PREFIX
from customers.models import Channel, Customer
from customers.signals import instance_rows, send_rows_written
from surveys.models import NPSBand, Survey, SurveyInvitation, SurveyResponse, nps_band
from surveys.services import SurveyTooSoon, by_turns, create_invitation, record_response
from tickets.models import Priority, SLAPolicy, Status, Ticket, TicketMessage
from tickets.services import (
    add_message,
    change_ticket_status,
    open_ticket,
    record_customer_contact,
)

TICKETS_PER_CUSTOMER_WEIGHTS = (55, 33, 9, 3)  # 0..3
# How each demo ticket's story goes, and how old it is (days) so that the story fits.
SCENARIO_WEIGHTS: dict[str, int] = {
    "new": 8,
    "open": 10,
    "pending": 8,
    "resolved": 12,
    "closed": 42,
    "reopened": 8,
    "first_contact": 15,
}
SCENARIO_AGE_DAYS: dict[str, tuple[float, float]] = {
    "new": (0.02, 1.5),
    "open": (0.2, 6),
    "pending": (0.5, 10),
    "resolved": (0.5, 12),
    "closed": (9, 540),
    "reopened": (2, 400),
    "first_contact": (0.3, 540),
}
TICKET_CHANNEL_WEIGHTS: dict[str, int] = {
    Channel.PHONE: 35,
    Channel.EMAIL: 25,
    Channel.CHAT: 20,
    Channel.MESSENGER: 10,
    Channel.WEB: 5,
    Channel.SOCIAL: 5,
}
PRIORITY_WEIGHTS: dict[str, int] = {
    Priority.LOW: 20,
    Priority.NORMAL: 55,
    Priority.HIGH: 18,
    Priority.URGENT: 7,
}
# Used when a priority has no SLA policy (there always is one after the seed).
FALLBACK_TARGETS_MINUTES = (4 * 60, 24 * 60)
# Delays as a share of the SLA target, log-normal: most tickets are on time, about one in
# ten breaches resolution and fewer breach first response.
FIRST_RESPONSE_MU, FIRST_RESPONSE_SIGMA = -1.2, 0.8
RESOLUTION_MU, RESOLUTION_SIGMA = -0.9, 0.75
FIRST_CONTACT_MINUTES = (1, 6)
MIN_WORK_MINUTES = 5
UNASSIGNED_NEW_SHARE = 0.3
PURCHASE_LINK_SHARE = 0.4
PERSONALISED_SHARE = 0.55
INTERNAL_NOTE_SHARE = 0.3
EXTRA_CONTACT_SHARE = 0.25
PENDING_DETOUR_SHARE = 0.3
CLOSE_AFTER_DAYS = (2, 7)
REOPEN_AFTER_DAYS = (0.5, 3)
FIRST_CONTACT_CLOSED_AGE_DAYS = 9
# How fast each demo operator works relative to the SLA (1 = typical), and so how satisfied
# their customers are: the dashboard has a spread to show.
OPERATOR_PACE: dict[str, float] = {
    "demo.olga": 0.8,
    "demo.ivan": 1.0,
    "demo.emma": 0.9,
    "demo.dmitry": 1.4,
    "demo.kate": 1.0,
    "demo.james": 1.15,
}
SLA_TARGETS_MINUTES: dict[str, tuple[int, int]] = {
    Priority.URGENT: (15, 4 * 60),
    Priority.HIGH: (60, 8 * 60),
    Priority.NORMAL: (4 * 60, 24 * 60),
    Priority.LOW: (8 * 60, 72 * 60),
}

CSAT_INVITE_SHARE = 0.85
CES_INVITE_SHARE = 0.4
NPS_INVITE_SHARE = 0.45
CSAT_RESPONSE_SHARE = 0.65
CES_RESPONSE_SHARE = 0.55
NPS_RESPONSE_SHARE = 0.45
COMMENT_SHARE = 0.5
SURVEY_DELAY = dt.timedelta(minutes=10)
SEND_DELAY = dt.timedelta(minutes=1)
ANSWER_HOURS_MU, ANSWER_HOURS_SIGMA = 1.0, 1.2  # median under 3 hours after sending
NPS_DAYS = (10, 300)
NPS_REPEAT_DAYS = 180
INVITATION_TTL_DAYS = 14
# The answer model: a satisfied-customer baseline, moved by what happened on the ticket.
BASE_QUALITY = 0.78
PERSONALISED_BONUS = 0.07
BREACH_PENALTY = 0.3
REOPEN_PENALTY = 0.12
EXTRA_CONTACT_PENALTY = 0.08
PACE_PENALTY = 0.15
SCORE_NOISE = 0.15
# How a customer's standing shifts their NPS answer from the baseline.
LIFECYCLE_MOOD: dict[str, float] = {
    Customer.Lifecycle.ACTIVE: 0.08,
    Customer.Lifecycle.AT_RISK: -0.1,
    Customer.Lifecycle.CHURNED: -0.25,
}
# The tone of a demo comment that goes with an NPS answer, by its band.
NPS_SENTIMENT = {
    NPSBand.PROMOTER: SurveyResponse.Sentiment.POSITIVE,
    NPSBand.PASSIVE: SurveyResponse.Sentiment.NEUTRAL,
    NPSBand.DETRACTOR: SurveyResponse.Sentiment.NEGATIVE,
}


@dataclass
class DemoTicketsResult:
    """How many tickets, invitations and answers the service phase made."""

    tickets: int
    invitations: int
    responses: int


def ensure_sla_policies(*, name_prefix: str = DEMO_NAME_PREFIX) -> dict[str, SLAPolicy]:
    """The active policy of each priority, creating one named `name_prefix...` where none is."""
    policies: dict[str, SLAPolicy] = {}
    for priority in Priority:
        policy = SLAPolicy.objects.filter(priority=priority, is_active=True).first()
        if policy is None:
            first_response, resolution = SLA_TARGETS_MINUTES[priority]
            policy = SLAPolicy(
                name=f"{name_prefix}SLA {priority.label}",
                priority=priority,
                first_response_minutes=first_response,
                resolution_minutes=resolution,
            )
            policy.full_clean()
            policy.save()
        policies[priority] = policy
    return policies


def ensure_surveys(
    *, name_prefix: str = DEMO_NAME_PREFIX, automatic: bool = True
) -> dict[str, Survey]:
    """CSAT, NPS and CES surveys named `name_prefix...`, asking in English and Russian.

    `automatic=False` makes them manual, so no scheduled job starts sending them.
    """
    specs = [
        (Survey.Kind.CSAT, "CSAT after a resolved ticket", Survey.Trigger.TICKET_RESOLVED, None),
        (Survey.Kind.NPS, "NPS twice a year", Survey.Trigger.PERIODIC, NPS_REPEAT_DAYS),
        (Survey.Kind.CES, "CES after a resolved ticket", Survey.Trigger.TICKET_RESOLVED, None),
    ]
    surveys: dict[str, Survey] = {}
    for kind, name, trigger, repeat in specs:
        survey = Survey.objects.filter(name=f"{name_prefix}{name}").first()
        if survey is None:
            survey = Survey(
                name=f"{name_prefix}{name}",
                kind=kind,
                questions=words.SURVEY_QUESTIONS[kind],
                trigger=trigger if automatic else Survey.Trigger.MANUAL,
                repeat_after_days=repeat,
                invitation_ttl_days=INVITATION_TTL_DAYS,
            )
            survey.full_clean()
            survey.save()
        surveys[kind] = survey
    return surveys


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


class ServiceSeeder:
    """Runs each planned ticket's story through the ticket and survey services."""

    def __init__(
        self,
        *,
        seed: int,
        clock: DemoClock,
        commerce: CommercePlanner,
        operators: list[User],
        policies: dict[str, SLAPolicy],
        surveys: dict[str, Survey],
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.commerce = commerce
        self.operators = operators
        self.policies = policies
        self.surveys = surveys
        self.sentiments: list[SurveyResponse] = []
        self.invitations = 0
        self.responses = 0

    def rng(self, *parts: object) -> random.Random:
        return random.Random("/".join(str(part) for part in (self.seed, "service", *parts)))

    def run(self, plans: list[CustomerPlan]) -> DemoTicketsResult:
        """Tickets for some customers, survey invitations and answers for many."""
        tickets = 0
        for plan in plans:
            picker = self.rng("tickets", plan.profile.index)
            weights = TICKETS_PER_CUSTOMER_WEIGHTS
            count = picker.choices(range(len(weights)), weights)[0]
            for number in range(count):
                rng = self.rng("ticket", plan.profile.index, number)
                ticket = self._ticket(rng, plan, scenario=_weighted(picker, SCENARIO_WEIGHTS))
                self._ticket_surveys(
                    self.rng("ticket-survey", plan.profile.index, number), plan, ticket
                )
                tickets += 1
            self._nps(self.rng("nps", plan.profile.index), plan)
        SurveyResponse.objects.bulk_update(self.sentiments, ["sentiment"])
        send_rows_written(SurveyResponse, instance_rows(self.sentiments))
        return DemoTicketsResult(
            tickets=tickets, invitations=self.invitations, responses=self.responses
        )

    # --- tickets ------------------------------------------------------------------------------

    def _ticket(self, rng: random.Random, plan: CustomerPlan, *, scenario: str) -> Ticket:
        profile = plan.profile
        created = self.clock.moment(rng, *SCENARIO_AGE_DAYS[scenario])
        channel = _weighted(rng, TICKET_CHANNEL_WEIGHTS)
        priority = _weighted(rng, PRIORITY_WEIGHTS)
        operator = rng.choice(self.operators)
        pace = OPERATOR_PACE.get(operator.username, 1.0)
        subject = profile.text(rng.choice(words.TICKET_SUBJECTS))
        opener = profile.text(rng.choice(words.CUSTOMER_OPENERS))
        first_contact = self.commerce.contact(
            rng,
            profile,
            channel=channel,
            started=created,
            inbound=True,
            summary=subject,
            abandon=False,
        )
        first_contact.operator = operator
        first_contact.save()
        bought_before = [p for p in plan.completed_purchases() if p.purchased_at < created]
        purchase = rng.choice(bought_before) if bought_before else None
        unassigned = scenario == "new" and rng.random() < UNASSIGNED_NEW_SHARE
        ticket = open_ticket(
            customer=plan.customer,
            subject=subject,
            channel=channel,
            body=f"{opener} {subject}.",
            actor=operator if channel in {Channel.PHONE, Channel.CHAT} else None,
            interaction=first_contact,
            created_at=created,
            priority=priority,
            assignee=None if unassigned else operator,
            team=None if unassigned else operator.team,
            purchase=purchase if rng.random() < PURCHASE_LINK_SHARE else None,
            personalized=rng.random() < PERSONALISED_SHARE,
        )
        policy = self.policies.get(priority)
        first_target, resolution_target = (
            (policy.first_response_minutes, policy.resolution_minutes)
            if policy
            else FALLBACK_TARGETS_MINUTES
        )
        if scenario == "first_contact" and channel in {Channel.PHONE, Channel.CHAT}:
            first_delay = rng.uniform(*FIRST_CONTACT_MINUTES)
        else:
            first_delay = (
                first_target * pace * rng.lognormvariate(FIRST_RESPONSE_MU, FIRST_RESPONSE_SIGMA)
            )
        resolution_delay = max(
            resolution_target * pace * rng.lognormvariate(RESOLUTION_MU, RESOLUTION_SIGMA),
            first_delay + MIN_WORK_MINUTES,
        )
        story = _Story(self, rng, plan, ticket, operator)
        story.play(
            scenario,
            first_reply=created + dt.timedelta(minutes=first_delay),
            resolution=created + dt.timedelta(minutes=resolution_delay),
        )
        ticket.refresh_from_db()
        return ticket

    # --- surveys ------------------------------------------------------------------------------

    def _ticket_surveys(self, rng: random.Random, plan: CustomerPlan, ticket: Ticket) -> None:
        if ticket.resolved_at is None:
            return
        quality = self._ticket_quality(ticket)
        if rng.random() < CSAT_INVITE_SHARE:
            # One survey per resolution, CSAT and CES taking turns as the product sends them
            # (surveys.triggers.invite_after_ticket_resolved); the CES roll below still draws,
            # so that the rest of the demo stays the same for a seed.
            first = by_turns(
                plan.customer.pk, [self.surveys[Survey.Kind.CSAT], self.surveys[Survey.Kind.CES]]
            )[0]
            self._invite(
                rng,
                plan,
                first,
                ticket.resolved_at + SURVEY_DELAY,
                ticket=ticket,
                quality=quality,
                answer_share=(
                    CSAT_RESPONSE_SHARE if first.kind == Survey.Kind.CSAT else CES_RESPONSE_SHARE
                ),
            )
            if rng.random() < CES_INVITE_SHARE:
                # Within SURVEY_MIN_DAYS_BETWEEN of the first: refused by the service, as in
                # production, unless the spacing is switched off.
                self._invite(
                    rng,
                    plan,
                    self.surveys[Survey.Kind.CES],
                    ticket.resolved_at + SURVEY_DELAY * 2,
                    ticket=ticket,
                    quality=quality,
                    answer_share=CES_RESPONSE_SHARE,
                )

    def _ticket_quality(self, ticket: Ticket) -> float:
        """How well the ticket went, 0..1, from what a customer notices."""
        breached = bool(
            ticket.resolution_due_at
            and ticket.resolved_at
            and ticket.resolved_at > ticket.resolution_due_at
        )
        pace = OPERATOR_PACE.get(ticket.assignee.username, 1.0) if ticket.assignee else 1.0
        return (
            BASE_QUALITY
            + (PERSONALISED_BONUS if ticket.personalized else 0.0)
            - (BREACH_PENALTY if breached else 0.0)
            - REOPEN_PENALTY * ticket.reopened_count
            - EXTRA_CONTACT_PENALTY * (ticket.customer_contacts - 1)
            - PACE_PENALTY * (pace - 1)
        )

    def _nps(self, rng: random.Random, plan: CustomerPlan) -> None:
        if not plan.completed_purchases() or rng.random() >= NPS_INVITE_SHARE:
            return
        quality = BASE_QUALITY + LIFECYCLE_MOOD.get(plan.customer.lifecycle, 0.0)
        created = self.clock.moment(rng, *NPS_DAYS)
        self._invite(
            rng,
            plan,
            self.surveys[Survey.Kind.NPS],
            created,
            cause=f"periodic:{self.clock.local_date(created):%Y-%m}",
            quality=quality,
            answer_share=NPS_RESPONSE_SHARE,
        )

    def _invite(
        self,
        rng: random.Random,
        plan: CustomerPlan,
        survey: Survey,
        created: dt.datetime,
        *,
        quality: float,
        answer_share: float,
        ticket: Ticket | None = None,
        cause: str = "",
    ) -> None:
        """Invite, and maybe answer: a score from `quality`, a comment in their language."""
        customer = plan.customer
        reachable = customer.consent_reminders
        answers = rng.random() < answer_share
        answer_after = dt.timedelta(hours=rng.lognormvariate(ANSWER_HOURS_MU, ANSWER_HOURS_SIGMA))
        noise = rng.gauss(0, SCORE_NOISE)
        with_comment = rng.random() < COMMENT_SHARE
        comment_roll = rng.random()
        if not self.clock.is_past(created + SEND_DELAY):
            return
        sent_at = created + SEND_DELAY
        try:
            invitation, _created = create_invitation(
                survey=survey,
                customer=customer,
                cause=cause,
                ticket=ticket,
                created_at=created,
                delivery_channel=customer.preferred_channel,
                delivery_status=(
                    SurveyInvitation.DeliveryStatus.SENT
                    if reachable
                    else SurveyInvitation.DeliveryStatus.SKIPPED
                ),
                sent_at=sent_at if reachable else None,
                attempts=1 if reachable else 0,
                last_error="" if reachable else "No consent to service messages.",
            )
        except SurveyTooSoon:
            return  # the customer had a survey lately: the product would not ask again
        self.invitations += 1
        answered_at = sent_at + answer_after
        if not (reachable and answers and self.clock.is_past(answered_at)):
            return
        if answered_at >= invitation.expires_at:
            return
        share = min(max(quality + noise, 0.0), 1.0)
        score = survey.scale_min + round(share * (survey.scale_max - survey.scale_min))
        sentiment = comment_sentiment(survey, score)
        comments = words.COMMENTS[sentiment]
        comment = plan.profile.text(comments[int(comment_roll * len(comments))])
        if not with_comment:
            comment = ""
        response, _new = record_response(
            invitation=invitation, score=score, comment=comment, at=answered_at
        )
        self.responses += 1
        if comment and not response.sentiment:
            response.sentiment = sentiment
            self.sentiments.append(response)


def comment_sentiment(survey: Survey, score: int) -> str:
    """The tone of a comment that goes with `score`: the demo's comments are written to match."""
    if survey.kind == Survey.Kind.NPS:
        return NPS_SENTIMENT[nps_band(score)]
    if survey.is_satisfied(score):
        return SurveyResponse.Sentiment.POSITIVE
    middle = (survey.scale_min + survey.scale_max) / 2
    return (
        SurveyResponse.Sentiment.NEUTRAL if score >= middle else SurveyResponse.Sentiment.NEGATIVE
    )


class _Story:
    """One ticket's life after it was opened, step by step, stopping where "now" is."""

    def __init__(
        self,
        seeder: ServiceSeeder,
        rng: random.Random,
        plan: CustomerPlan,
        ticket: Ticket,
        operator: User,
    ) -> None:
        self.seeder = seeder
        self.clock = seeder.clock
        self.rng = rng
        self.plan = plan
        self.ticket = ticket
        self.operator = operator

    def text(self, pairs: list[tuple[str, str]]) -> str:
        return self.plan.profile.text(self.rng.choice(pairs))

    def play(self, scenario: str, *, first_reply: dt.datetime, resolution: dt.datetime) -> None:
        """Act out `scenario`; every step happens only if its moment has already passed."""
        rng = self.rng
        # Draw everything up front, so a story cut short by "now" uses the same random values.
        note = rng.random() < INTERNAL_NOTE_SHARE
        extra_contacts = rng.randint(1, 2) if rng.random() < EXTRA_CONTACT_SHARE else 0
        detour = rng.random() < PENDING_DETOUR_SHARE
        close_after = dt.timedelta(days=rng.uniform(*CLOSE_AFTER_DAYS))
        reopen_after = dt.timedelta(days=rng.uniform(*REOPEN_AFTER_DAYS))
        moments = sorted(self.clock.between(rng, first_reply, resolution) for _ in range(3))
        if scenario == "new" or not self.clock.is_past(first_reply):
            return
        self.reply(first_reply, self.text(words.OPERATOR_REPLIES))
        if scenario == "first_contact":
            self.resolve(first_reply + dt.timedelta(minutes=MIN_WORK_MINUTES))
            if self.clock.days_ago(first_reply) > FIRST_CONTACT_CLOSED_AGE_DAYS:
                self.move(Status.CLOSED, (self.ticket.resolved_at or first_reply) + close_after)
            return
        self.move(Status.OPEN, first_reply)
        if note:
            self.note(moments[0])
        if scenario == "open":
            return
        if scenario == "pending" or detour:
            self.reply(moments[0], self.text(words.OPERATOR_REPLIES))
            self.move(Status.PENDING, moments[0])
            if scenario == "pending":
                return
            self.customer_writes(moments[1])  # back to open
        for contact in range(extra_contacts):
            self.extra_contact(moments[1 + contact])
        if not self.resolve(resolution):
            return
        if scenario == "reopened":
            reopened = resolution + reopen_after
            if not self.customer_writes(reopened) or not self.move(Status.OPEN, reopened):
                return
            resolution = reopened + (resolution - first_reply)
            if not self.resolve(resolution):
                return
        if scenario in {"closed", "reopened"}:
            self.move(Status.CLOSED, resolution + close_after)

    def move(self, to_status: str, at: dt.datetime) -> bool:
        if not self.clock.is_past(at):
            return False
        self.ticket = change_ticket_status(
            ticket=self.ticket, to_status=to_status, actor=self.operator, at=at
        )
        return True

    def reply(self, at: dt.datetime, body: str) -> bool:
        if not self.clock.is_past(at):
            return False
        add_message(
            ticket=self.ticket,
            body=body,
            author_kind=TicketMessage.Author.OPERATOR,
            author_user=self.operator,
            at=at,
        )
        return True

    def note(self, at: dt.datetime) -> None:
        if self.clock.is_past(at):
            add_message(
                ticket=self.ticket,
                body=self.text(words.INTERNAL_NOTES),
                author_kind=TicketMessage.Author.OPERATOR,
                author_user=self.operator,
                is_internal=True,
                at=at,
            )

    def customer_writes(self, at: dt.datetime) -> bool:
        if not self.clock.is_past(at):
            return False
        add_message(
            ticket=self.ticket,
            body=self.text(words.CUSTOMER_FOLLOW_UPS),
            author_kind=TicketMessage.Author.CUSTOMER,
            at=at,
        )
        return True

    def extra_contact(self, at: dt.datetime) -> None:
        """The customer gets in touch again about the same ticket (not first-contact resolved)."""
        if not self.clock.is_past(at):
            return
        contact = self.seeder.commerce.contact(
            self.rng,
            self.plan.profile,
            channel=self.ticket.channel,
            started=at,
            inbound=True,
            summary=self.ticket.subject,
            abandon=False,
        )
        contact.save()
        self.ticket = record_customer_contact(ticket=self.ticket, interaction=contact)

    def resolve(self, at: dt.datetime) -> bool:
        if not self.clock.is_past(at):
            return False
        self.reply(at, self.text(words.RESOLUTION_NOTES))
        return self.move(Status.RESOLVED, at)
