"""seed_demo: a believable small electronics shop with its support team, in one transaction.

The plan (customers, purchases, interests, contacts, offers, reminders) is drawn in memory
from the seed and saved with bulk_create; tickets and survey answers go through the services.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import OPERATORS, SUPERVISORS
from crm.demo import vocabulary as words
from crm.demo.catalogue import ensure_catalogue
from crm.demo.clock import DemoClock
from crm.demo.commerce import CommercePlanner, CustomerPlan
from crm.demo.markers import DEMO_SKU_PREFIX, DEMO_SLUG_PREFIX, PURCHASE_ID_PREFIX
from crm.demo.people import PeoplePlanner
from crm.demo.reset import demo_counts
from crm.demo.service import ServiceSeeder, ensure_sla_policies, ensure_surveys
from customers.models import (
    ContactPoint,
    Customer,
    Interaction,
    Interest,
    Offer,
    Reminder,
    Tag,
)
from customers.purchases import write_purchases
from customers.signals import instance_rows, send_rows_written
from email_channel.models import Mailbox

DEFAULT_SEED = 42
DEFAULT_CUSTOMERS = 300
# The demo staff's password when none is given: printed by the command, fine for a laptop,
# never for a server (the command refuses it when DEBUG is off).
DEMO_PASSWORD = "demo-crm-2024"


@dataclass(frozen=True)
class DemoUser:
    """A demo staff member as the command prints them."""

    username: str
    full_name: str
    role: str
    team: str


@dataclass
class DemoResult:
    """What seed_demo made: row counts by kind, the staff, and how long it took."""

    counts: dict[str, int]
    users: list[DemoUser] = field(default_factory=list)
    seconds: float = 0.0


def ensure_staff(*, password: str | None) -> tuple[list[User], User]:
    """The demo operators (two teams) and their supervisor, created or brought up to date.

    `password=None` gives them an unusable password (log in after `changepassword`).
    """
    # One hash for all: hashing is deliberately slow and these are throwaway accounts.
    encoded = make_password(password)
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (OPERATORS, SUPERVISORS)}
    teams = {
        name: Team.objects.get_or_create(name=name)[0]
        for name in (words.FIRST_LINE, words.SECOND_LINE)
    }

    def upsert(spec: tuple[str, str, str, str, str], role: str) -> User:
        username, first_name, last_name, language, team = spec
        user, _created = User.objects.update_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@example.com",
                "is_staff": True,
                "is_active": True,
                "language": language,
                "team": teams[team],
                "password": encoded,
            },
        )
        user.groups.set([groups[role]])
        return user

    operators = [upsert(spec, OPERATORS) for spec in words.OPERATOR_STAFF]
    supervisor = upsert(words.SUPERVISOR_STAFF, SUPERVISORS)
    return operators, supervisor


@transaction.atomic
def seed_demo(
    *,
    seed: int = DEFAULT_SEED,
    customers: int = DEFAULT_CUSTOMERS,
    password: str | None = DEMO_PASSWORD,
    now: dt.datetime | None = None,
) -> DemoResult:
    """Fill the database with the demo company; all or nothing. The caller checks for reruns."""
    started = time.perf_counter()
    clock = DemoClock(now=now or timezone.now())
    operators, supervisor = ensure_staff(password=password)
    policies = ensure_sla_policies()
    # The mailbox `ingest_email --mailbox support` takes mail into; no mail server needed.
    Mailbox.objects.get_or_create(
        name="support",
        defaults={
            "address": "support@example.com",
            "team": Team.objects.filter(name=words.FIRST_LINE).first(),
        },
    )
    surveys = ensure_surveys()
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in words.TAGS}
    products = ensure_catalogue(sku_prefix=DEMO_SKU_PREFIX, slug_prefix=DEMO_SLUG_PREFIX)

    people = PeoplePlanner(seed=seed, clock=clock)
    profiles = people.plan(customers)
    commerce = CommercePlanner(seed=seed, clock=clock, products=products, operators=operators)
    plans = [commerce.plan(profile) for profile in profiles]
    _save_plans(plans, tags=tags, unknown_calls=commerce.unknown_calls(people.used_phones))

    ServiceSeeder(
        seed=seed,
        clock=clock,
        commerce=commerce,
        operators=operators,
        policies=policies,
        surveys=surveys,
    ).run(plans)

    users = [
        DemoUser(user.username, user.get_full_name(), role, user.team.name if user.team else "")
        for user, role in [*((op, OPERATORS) for op in operators), (supervisor, SUPERVISORS)]
    ]
    return DemoResult(counts=demo_counts(), users=users, seconds=time.perf_counter() - started)


def _save_plans(
    plans: list[CustomerPlan], *, tags: dict[str, Tag], unknown_calls: list[Interaction]
) -> None:
    """Save the planned rows, parents first; bulk_create fills in the ids children point at."""
    Customer.objects.bulk_create([plan.customer for plan in plans])
    contacts: list[ContactPoint] = []
    tag_links = []
    through = Customer.tags.through
    for plan in plans:
        for contact in plan.profile.contacts:
            contact.customer = plan.customer
            # bulk_create skips save(), where the normalised value is filled in (and checked).
            contact.normalise()
            contacts.append(contact)
        tag_links += [
            through(customer_id=plan.customer.pk, tag_id=tags[name].pk)
            for name in plan.profile.tags
        ]
    ContactPoint.objects.bulk_create(contacts)
    through.objects.bulk_create(tag_links)
    purchases = [p for plan in plans for p in plan.purchases]
    for number, purchase in enumerate(purchases, start=1):
        purchase.external_id = f"{PURCHASE_ID_PREFIX}{number:05d}"
    # The one bulk writer of purchases: the dashboard's purchase summary hears of them.
    write_purchases(purchases=purchases)
    # bulk_create sends no model signals: the metrics' rollups hear of the rows this way.
    interests = Interest.objects.bulk_create([i for plan in plans for i in plan.interests])
    send_rows_written(Interest, instance_rows(interests))
    interactions = Interaction.objects.bulk_create(
        [i for plan in plans for i in plan.interactions] + unknown_calls
    )
    send_rows_written(Interaction, instance_rows(interactions))
    offers = Offer.objects.bulk_create([o for plan in plans for o in plan.offers])
    send_rows_written(Offer, instance_rows(offers))
    Reminder.objects.bulk_create([r for plan in plans for r in plan.reminders])
