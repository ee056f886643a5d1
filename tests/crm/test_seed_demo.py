"""seed_demo: a believable, valid, repeatable demo company."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import F, Model
from django.test import override_settings
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import OPERATORS, SUPERVISORS
from crm.demo.catalogue import PRODUCTS
from crm.demo.reset import demo_counts, demo_customers
from customers.contacts import normalise_phone
from customers.models import (
    ContactPoint,
    Customer,
    Interaction,
    Interest,
    Offer,
    Product,
    ProductCategory,
    Purchase,
    Reminder,
    Tag,
)
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tests.factories import CustomerFactory, PurchaseFactory
from tickets.models import (
    Priority,
    SLAPolicy,
    Status,
    Ticket,
    TicketContact,
    TicketEvent,
    TicketMessage,
)

pytestmark = pytest.mark.django_db

SEED = 42
PASSWORD = "demo-test-password"
SMALL = 40  # customers, for the repeatability test that seeds four times
TINY = 15  # customers, for tests about the command rather than the data
CYRILLIC = re.compile("[\u0400-\u04ff]")
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FULL_CLEAN_SAMPLE = 25


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """The default demo company, seeded once for the module and rolled back after it."""
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHER),
        transaction.atomic(),
    ):
        out = StringIO()
        call_command("seed_demo", seed=SEED, password=PASSWORD, stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def fast_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER


def _snapshot() -> dict[str, Any]:
    return {
        "counts": demo_counts(),
        "names": sorted(demo_customers().values_list("full_name", flat=True)),
        "contacts": sorted(
            ContactPoint.objects.filter(customer__in=demo_customers()).values_list(
                "value", flat=True
            )
        ),
        "products": sorted(Product.objects.values_list("sku", "name")),
        "purchases": sorted(
            Purchase.objects.filter(customer__in=demo_customers()).values_list(
                "customer__external_id", "product__sku", "amount", "status"
            )
        ),
        "tickets": sorted(
            Ticket.objects.filter(customer__in=demo_customers()).values_list(
                "customer__external_id", "subject", "status", "priority"
            )
        ),
        "scores": sorted(SurveyResponse.objects.values_list("invitation__survey__kind", "score")),
    }


def test_seed_demo_makes_a_company_of_believable_size(seeded: str) -> None:
    counts = demo_counts()
    assert counts["customers"] == 300
    assert 500 <= counts["contact points"] <= 1000
    assert counts["products"] == len(PRODUCTS)
    assert counts["product categories"] == 6
    assert 600 <= counts["purchases"] <= 2000
    assert 100 <= counts["interests"] <= 600
    assert 600 <= counts["interactions"] <= 3000
    assert 50 <= counts["offers"] <= 300
    assert 10 <= counts["reminders"] <= 200
    assert 100 <= counts["tickets"] <= 300
    assert counts["ticket messages"] > 2 * counts["tickets"]
    assert counts["surveys"] == 3
    assert "Demo company loaded" in seeded


def test_half_the_customers_speak_russian_with_cyrillic_names(seeded: str) -> None:
    customers = demo_customers()
    assert customers.filter(language="ru").count() == 150
    assert customers.filter(language="en").count() == 150
    russian_people = customers.filter(language="ru", kind=Customer.Kind.PERSON)
    assert russian_people.exists()
    assert all(CYRILLIC.search(name) for name in russian_people.values_list("full_name", flat=True))
    english_people = customers.filter(language="en", kind=Customer.Kind.PERSON)
    assert not any(CYRILLIC.search(n) for n in english_people.values_list("full_name", flat=True))
    assert customers.filter(kind=Customer.Kind.COMPANY).count() >= 10
    assert customers.exclude(acquisition_campaign="").exists()
    assert customers.values("acquisition_channel").distinct().count() >= 8
    assert customers.values("segment").distinct().count() == len(Customer.Segment)
    assert customers.values("lifecycle").distinct().count() == len(Customer.Lifecycle)
    assert Tag.objects.filter(customers__in=customers).distinct().count() >= 5


def test_phones_are_typed_in_many_spellings_and_stored_in_e164(seeded: str) -> None:
    phones = ContactPoint.objects.filter(
        customer__in=demo_customers(), kind=ContactPoint.Kind.PHONE
    )
    values = list(phones.values_list("value", "normalised_value"))
    shapes = {re.sub(r"\d", "9", value) for value, _e164 in values}
    assert len(shapes) >= 6
    assert any(value.startswith("8 (") for value, _e164 in values)
    assert any(re.fullmatch(r"7\d{10}", value) for value, _e164 in values)
    assert any(not e164.startswith("+79") for _value, e164 in values)  # a few abroad
    for value, e164 in values:
        assert e164.startswith("+")
        assert normalise_phone(value) == e164
    assert len({e164 for _value, e164 in values}) == len(values)  # one card per number
    emails = ContactPoint.objects.filter(customer__in=demo_customers(), kind="email")
    assert emails.count() > 150
    assert ContactPoint.objects.filter(
        customer__in=demo_customers(), kind=ContactPoint.Kind.MESSENGER
    ).exists()


def test_tickets_cover_every_status_and_the_sla_cases(seeded: str) -> None:
    tickets = Ticket.objects.filter(customer__in=demo_customers())
    assert set(tickets.values_list("status", flat=True)) == set(Status.values)
    assert tickets.filter(customer_contacts__gt=1).exists()
    assert tickets.filter(reopened_count__gt=0).exists()
    assert tickets.filter(resolved_at__gt=F("resolution_due_at")).exists()  # breached
    assert tickets.filter(resolved_at__lte=F("resolution_due_at")).exists()  # on time
    assert tickets.filter(first_response_at__isnull=False).count() > tickets.count() // 2
    assert not tickets.filter(first_response_at__lt=F("created_at")).exists()
    assert set(SLAPolicy.objects.filter(is_active=True).values_list("priority", flat=True)) == set(
        Priority.values
    )
    now = timezone.now()
    assert not TicketEvent.objects.filter(created_at__gt=now).exists()
    assert not TicketMessage.objects.filter(created_at__gt=now).exists()
    # Every status change is in the history, in the order it happened.
    for ticket in tickets.filter(status=Status.CLOSED)[:20]:
        moves = list(ticket.events.values_list("to_value", flat=True))
        assert moves[0] == Status.NEW
        assert moves[-1] == Status.CLOSED


def test_survey_answers_of_every_kind_in_both_languages(seeded: str) -> None:
    responses = SurveyResponse.objects.filter(invitation__customer__in=demo_customers())
    kinds = set(responses.values_list("invitation__survey__kind", flat=True))
    assert kinds == {Survey.Kind.CSAT, Survey.Kind.NPS, Survey.Kind.CES}
    comments = list(responses.exclude(comment="").values_list("comment", flat=True))
    assert any(CYRILLIC.search(comment) for comment in comments)
    assert any(not CYRILLIC.search(comment) for comment in comments)
    for survey in Survey.objects.filter(name__startswith="Demo"):
        assert set(survey.questions) == {"en", "ru"}
        scores = responses.filter(invitation__survey=survey).values_list("score", flat=True)
        assert all(survey.scale_min <= score <= survey.scale_max for score in scores)
    ticket_invitations = SurveyInvitation.objects.filter(ticket__isnull=False)
    assert ticket_invitations.filter(
        ticket__status__in=[Status.RESOLVED, Status.CLOSED]
    ).count() == (ticket_invitations.count())


def test_commerce_history_is_consistent(seeded: str) -> None:
    purchases = Purchase.objects.filter(customer__in=demo_customers()).select_related("product")
    for purchase in purchases:
        stored = (
            purchase.warranty_ends_on,
            purchase.support_ends_on,
            purchase.subscription_ends_on,
        )
        purchase.derive_end_dates()
        assert stored == (
            purchase.warranty_ends_on,
            purchase.support_ends_on,
            purchase.subscription_ends_on,
        )
    two_years_ago = timezone.now() - dt.timedelta(days=731)
    assert not purchases.filter(purchased_at__lt=two_years_ago).exists()
    assert purchases.filter(status=Purchase.Status.REFUNDED).exists()
    interests = Interest.objects.filter(customer__in=demo_customers())
    assert set(interests.values_list("kind", flat=True)) == set(Interest.Kind.values)
    assert set(interests.values_list("status", flat=True)) == set(Interest.Status.values)
    assert not interests.filter(status="converted", purchase__isnull=True).exists()
    offers = Offer.objects.filter(customer__in=demo_customers())
    assert set(offers.values_list("status", flat=True)) == set(Offer.Status.values)
    assert Reminder.objects.filter(customer__in=demo_customers(), kind="warranty").exists()
    calls = Interaction.objects.filter(channel="phone", direction="inbound")
    assert calls.filter(answered_at__isnull=True, ended_at__isnull=False).exists()  # abandoned
    assert calls.filter(answered_at__gt=F("started_at")).exists()  # waited, then answered
    channels = set(Interaction.objects.values_list("channel", flat=True))
    assert {"phone", "email", "chat", "messenger", "sms", "visit", "internal"} <= channels


def test_demo_staff_are_operators_in_two_teams_and_a_supervisor(seeded: str) -> None:
    operators = User.objects.filter(groups__name=OPERATORS, username__startswith="demo.")
    assert operators.count() == 6
    assert operators.values("team").distinct().count() == 2
    supervisor = User.objects.get(groups__name=SUPERVISORS, username__startswith="demo.")
    assert supervisor.is_staff
    assert all(user.check_password(PASSWORD) for user in [*operators, supervisor])
    assert "demo.olga" in seeded
    assert PASSWORD in seeded
    assert Ticket.objects.filter(assignee__in=operators).exists()


MODELS_TO_CLEAN: list[type[Model]] = [
    Customer,
    ContactPoint,
    Tag,
    ProductCategory,
    Product,
    Purchase,
    Interest,
    Interaction,
    Offer,
    Reminder,
    Team,
    User,
    Group,
    SLAPolicy,
    Ticket,
    TicketMessage,
    TicketEvent,
    TicketContact,
    Survey,
    SurveyInvitation,
    SurveyResponse,
]


@pytest.mark.parametrize("model", MODELS_TO_CLEAN, ids=lambda m: m.__name__)
def test_every_kind_of_demo_record_passes_full_clean(seeded: str, model: type[Model]) -> None:
    """bulk_create skips validation: a sample of each model must still be valid."""
    rows = list(model._default_manager.order_by("pk"))
    assert rows, f"no {model.__name__} rows"
    step = max(1, len(rows) // FULL_CLEAN_SAMPLE)
    for row in rows[::step]:
        row.full_clean()


def test_seed_demo_is_repeatable_and_never_doubles(fast_hasher: None) -> None:
    # --reset: the module's seeded company may be loaded already when this runs.
    call_command("seed_demo", seed=7, customers=SMALL, reset=True, stdout=StringIO())
    first = _snapshot()
    call_command("seed_demo", seed=7, customers=SMALL, reset=True, stdout=StringIO())
    assert _snapshot() == first

    out = StringIO()
    call_command("seed_demo", seed=7, customers=SMALL, stdout=out)
    assert "already loaded" in out.getvalue()
    assert _snapshot() == first

    call_command("seed_demo", seed=8, customers=SMALL, reset=True, stdout=StringIO())
    other = _snapshot()
    assert other["names"] != first["names"]
    assert other["counts"]["customers"] == SMALL


def test_clear_removes_demo_data_and_nothing_else(fast_hasher: None) -> None:
    real = CustomerFactory(full_name="Real Customer")
    call_command("seed_demo", customers=TINY, reset=True, stdout=StringIO())
    call_command("seed_demo", clear=True, stdout=StringIO())
    assert all(count == 0 for count in demo_counts().values())
    assert list(Customer.objects.all()) == [real]
    assert User.objects.filter(username__startswith="demo.").count() == 7  # staff stay


def test_reset_refuses_when_real_data_uses_demo_products(fast_hasher: None) -> None:
    call_command("seed_demo", customers=TINY, reset=True, stdout=StringIO())
    before = demo_counts()
    PurchaseFactory(product=Product.objects.filter(sku__startswith="DEMO-").first())
    with pytest.raises(CommandError, match="other data refers to them"):
        call_command("seed_demo", customers=TINY, reset=True, stdout=StringIO())
    assert demo_counts() == before  # all or nothing


def test_without_debug_the_demo_staff_get_no_usable_password(
    fast_hasher: None, settings: Any
) -> None:
    settings.DEBUG = False
    out = StringIO()
    call_command("seed_demo", customers=TINY, reset=True, stdout=out)
    assert not User.objects.get(username="demo.olga").has_usable_password()
    assert "no usable password" in out.getvalue()
