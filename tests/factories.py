"""factory_boy factories for every model; the defaults make a valid, believable record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from email.message import EmailMessage as MimeMessage

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Team, User
from customers.models import (
    Channel,
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
from email_channel.models import Mailbox
from metrics.models import CLVModelFit, MetricSnapshot
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tickets.models import Priority, SLAPolicy, Ticket, TicketMessage


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    groups = factory.PostGeneration(
        lambda user, create, extracted, **_: _join(user, create, extracted)
    )


def _join(user: User, create: bool, role_names: list[str] | None) -> None:
    """Put a created user into the named role groups, then save the hashed password."""
    if not create:
        return
    if role_names:
        user.groups.set(Group.objects.filter(name__in=role_names))
    user.save()


class TagFactory(factory.django.DjangoModelFactory[Tag]):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    full_name = factory.Faker("name")
    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    acquisition_channel = "organic_search"
    lifecycle = Customer.Lifecycle.ACTIVE


class PhoneFactory(factory.django.DjangoModelFactory[ContactPoint]):
    """A Russian mobile number, unique per sequence, typed the way people type it."""

    class Meta:
        model = ContactPoint

    customer = factory.SubFactory(CustomerFactory)
    kind = ContactPoint.Kind.PHONE
    value = factory.Sequence(
        lambda n: f"8 (912) {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"
    )
    is_primary = True


class EmailFactory(factory.django.DjangoModelFactory[ContactPoint]):
    class Meta:
        model = ContactPoint

    customer = factory.SubFactory(CustomerFactory)
    kind = ContactPoint.Kind.EMAIL
    value = factory.Sequence(lambda n: f"Customer{n}@Example.com")
    is_primary = True


class ProductCategoryFactory(factory.django.DjangoModelFactory[ProductCategory]):
    class Meta:
        model = ProductCategory
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory[Product]):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(ProductCategoryFactory)
    price = Decimal("19990.00")
    warranty_months = 12


class PurchaseFactory(factory.django.DjangoModelFactory[Purchase]):
    class Meta:
        model = Purchase

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    amount = factory.LazyAttribute(lambda p: p.product.price if p.product else Decimal("1000.00"))
    purchased_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))


class InterestFactory(factory.django.DjangoModelFactory[Interest]):
    class Meta:
        model = Interest

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    kind = Interest.Kind.CART
    channel = Channel.WEB


class InteractionFactory(factory.django.DjangoModelFactory[Interaction]):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    channel = Channel.PHONE
    direction = Interaction.Direction.INBOUND
    # A contact the channel's system measured (its call ID); blank it for a hand-logged one.
    external_id = factory.Sequence(lambda n: f"call-{n}")
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=10))
    answered_at = factory.LazyAttribute(lambda i: i.started_at + dt.timedelta(seconds=40))
    ended_at = factory.LazyAttribute(lambda i: i.started_at + dt.timedelta(minutes=5))
    summary = "Asked about delivery"


class OfferFactory(factory.django.DjangoModelFactory[Offer]):
    class Meta:
        model = Offer

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    rule = Offer.Rule.MANUAL
    reason = "Fits what the customer owns"


class ReminderFactory(factory.django.DjangoModelFactory[Reminder]):
    class Meta:
        model = Reminder

    purchase = factory.SubFactory(PurchaseFactory)
    customer = factory.SelfAttribute("purchase.customer")
    kind = Reminder.Kind.WARRANTY
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=7))


class SLAPolicyFactory(factory.django.DjangoModelFactory[SLAPolicy]):
    class Meta:
        model = SLAPolicy

    name = factory.LazyAttribute(lambda p: f"Standard {p.priority}")
    priority = Priority.NORMAL
    first_response_minutes = 60
    resolution_minutes = 8 * 60


class TicketFactory(factory.django.DjangoModelFactory[Ticket]):
    class Meta:
        model = Ticket

    customer = factory.SubFactory(CustomerFactory)
    subject = factory.Sequence(lambda n: f"Problem number {n}")
    channel = Channel.PHONE


class TicketMessageFactory(factory.django.DjangoModelFactory[TicketMessage]):
    class Meta:
        model = TicketMessage

    ticket = factory.SubFactory(TicketFactory)
    author_kind = TicketMessage.Author.CUSTOMER
    body = "It does not turn on."


class SurveyFactory(factory.django.DjangoModelFactory[Survey]):
    class Meta:
        model = Survey

    kind = Survey.Kind.CSAT
    name = factory.LazyAttribute(lambda s: f"{s.kind} after support")


class SurveyInvitationFactory(factory.django.DjangoModelFactory[SurveyInvitation]):
    class Meta:
        model = SurveyInvitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)


class SurveyResponseFactory(factory.django.DjangoModelFactory[SurveyResponse]):
    class Meta:
        model = SurveyResponse

    invitation = factory.SubFactory(SurveyInvitationFactory)
    score = 5


class MetricSnapshotFactory(factory.django.DjangoModelFactory[MetricSnapshot]):
    class Meta:
        model = MetricSnapshot

    day = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=1))
    metric = "csat"
    value = 87.5
    n = 40
    ci_low = 74.0
    ci_high = 94.5


class CLVModelFitFactory(factory.django.DjangoModelFactory[CLVModelFit]):
    class Meta:
        model = CLVModelFit

    until = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=1))
    customers = 1200
    params = factory.LazyFunction(
        lambda: {
            "bgnbd": {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43, "log_likelihood": -9582.4},
            "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44, "log_likelihood": -4000.0},
            "horizon_months": 12,
            "annual_discount_rate": 0.1,
        }
    )


class MailboxFactory(factory.django.DjangoModelFactory[Mailbox]):
    class Meta:
        model = Mailbox
        django_get_or_create = ("name",)

    name = "support"
    address = factory.LazyAttribute(lambda mailbox: f"{mailbox.name}@example.com")


def raw_mail(
    *,
    sender: str,
    subject: str,
    body: str = "It does not turn on.",
    to: str = "support@example.com",
    attachments: dict[str, bytes] | None = None,
) -> bytes:
    """A raw email as a customer's mail client sends it, with files attached (name: content)."""
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = to
    mime["Subject"] = subject
    mime["Message-ID"] = f"<{abs(hash((sender, subject, body)))}@client.example.net>"
    mime["Date"] = "Tue, 10 Mar 2026 12:00:00 +0000"
    mime.set_content(body)
    for name, content in (attachments or {}).items():
        mime.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    return mime.as_bytes()
