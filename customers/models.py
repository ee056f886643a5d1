"""The customer and everything the card shows about them.

`customers` knows no other app of the project: tickets and surveys point here, never back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_time_zone
from core.choices import ChoiceLabels
from core.dates import site_day
from core.outbox.models import OutboxMessage, outbox_constraints, outbox_indexes
from customers.contacts import normalise_email, normalise_handle, normalise_phone
from customers.dates import add_months, validate_past_moment
from customers.lead_days import validate_lead_days

NOT_BLANK = ~Q(external_id="")


def default_currency() -> str:
    return settings.DEFAULT_CURRENCY


def default_language() -> str:
    return settings.LANGUAGE_CODE


class Channel(models.TextChoices):
    """A way a customer and the company talk to each other."""

    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Web chat")
    MESSENGER = "messenger", _("Messenger")
    SMS = "sms", _("SMS")
    WEB = "web", _("Website")
    VISIT = "visit", _("Visit")
    SOCIAL = "social", _("Social media")
    INTERNAL = "internal", _("Internal")


# The channels a reminder or survey invitation can be delivered through.
DELIVERY_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.MESSENGER)


class SalesChannel(models.TextChoices):
    """Where a purchase was made."""

    ONLINE = "online", _("Online store")
    RETAIL = "retail", _("Retail store")
    PHONE = "phone", _("Phone order")
    MARKETPLACE = "marketplace", _("Marketplace")
    PARTNER = "partner", _("Partner")
    SALES_REP = "sales_rep", _("Sales representative")


class AcquisitionChannel(models.TextChoices):
    """How a customer first came to the company."""

    ORGANIC_SEARCH = "organic_search", _("Organic search")
    PAID_SEARCH = "paid_search", _("Paid search")
    SOCIAL = "social", _("Social media")
    EMAIL = "email", _("Email campaign")
    REFERRAL = "referral", _("Referral")
    DIRECT = "direct", _("Direct")
    RETAIL = "retail", _("Retail store")
    MARKETPLACE = "marketplace", _("Marketplace")
    PARTNER = "partner", _("Partner")
    PHONE = "phone", _("Phone")
    OTHER = "other", _("Other")


class Tag(models.Model):
    """A free label an operator or integration puts on customers ("VIP", "wholesale")."""

    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Customer(ChoiceLabels, models.Model):
    """A person or a company the support team serves."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    class Lifecycle(models.TextChoices):
        LEAD = "lead", _("Lead")
        ACTIVE = "active", _("Active")
        AT_RISK = "at_risk", _("At risk")
        CHURNED = "churned", _("Churned")

    class Segment(models.TextChoices):
        CONSUMER = "consumer", _("Consumer")
        SMALL_BUSINESS = "small_business", _("Small business")
        ENTERPRISE = "enterprise", _("Enterprise")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERSON)
    full_name = models.CharField(_("full name"), max_length=255)
    # For a person: the company they buy for, if any. For a company, full_name is its name.
    company = models.CharField(_("company"), max_length=255, blank=True)
    external_id = models.CharField(
        _("external ID"),
        max_length=100,
        blank=True,
        help_text=_("The customer's ID in the shop or another system; unique when set."),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=default_language
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_("Empty: the site's time zone."),
    )
    segment = models.CharField(
        _("segment"), max_length=20, choices=Segment.choices, default=Segment.CONSUMER
    )
    lifecycle = models.CharField(
        _("lifecycle"), max_length=10, choices=Lifecycle.choices, default=Lifecycle.LEAD
    )
    acquisition_channel = models.CharField(
        _("acquisition channel"), max_length=20, choices=AcquisitionChannel.choices, blank=True
    )
    acquisition_campaign = models.CharField(_("acquisition campaign"), max_length=255, blank=True)
    customer_since = models.DateField(
        _("customer since"), default=timezone.localdate, validators=[validate_past_moment]
    )
    preferred_channel = models.CharField(
        _("preferred channel"),
        max_length=20,
        choices=[(c.value, c.label) for c in DELIVERY_CHANNELS],
        default=Channel.EMAIL,
        help_text=_("Where reminders and surveys go first."),
    )
    consent_reminders = models.BooleanField(_("consents to service reminders"), default=True)
    consent_marketing = models.BooleanField(_("consents to marketing"), default=False)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    notes = models.TextField(_("notes"), blank=True)
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["full_name", "id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # Rights of access and erasure: a privacy role's, not an operator's (accounts/roles.py).
        permissions = [
            ("merge_customer", _("Can merge duplicate customers")),
            ("view_customer_history", _("Can see who changed a customer's data")),
            ("export_customer_data", _("Can export a customer's personal data")),
            ("erase_customer_data", _("Can erase a customer's personal data")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=NOT_BLANK, name="customer_external_id_unique"
            ),
            models.CheckConstraint(
                condition=~Q(full_name=""),
                name="customer_full_name_not_blank",
                violation_error_message=_("Enter the customer's name."),
            ),
        ]
        indexes = [
            models.Index(fields=["full_name"], name="customer_full_name_idx"),
            models.Index(fields=["updated_at"], name="customer_updated_at_idx"),
            models.Index(fields=["created_at"], name="customer_created_at_idx"),
            models.Index(fields=["customer_since"], name="customer_since_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def is_anonymised(self) -> bool:
        return self.anonymised_at is not None


class ContactPoint(ChoiceLabels, models.Model):
    """One way to reach a customer: a phone, an email or a messenger handle.

    `value` keeps what was typed; `normalised_value` is what lookups match on: E.164 for
    phones, lower case for emails and handles. A value that does not parse is refused.
    """

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        MESSENGER = "messenger", _("Messenger")

    class Messenger(models.TextChoices):
        TELEGRAM = "telegram", "Telegram"
        WHATSAPP = "whatsapp", "WhatsApp"
        VIBER = "viber", "Viber"
        VK = "vk", "VK"
        OTHER = "other", _("Other")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="contact_points",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=255)
    normalised_value = models.CharField(_("normalised value"), max_length=255, editable=False)
    messenger = models.CharField(
        _("messenger"), max_length=10, choices=Messenger.choices, blank=True
    )
    label = models.CharField(_("label"), max_length=50, blank=True, help_text=_("work, home, ..."))
    is_primary = models.BooleanField(_("primary"), default=False)
    opted_out_at = models.DateTimeField(
        _("opted out at"), null=True, blank=True, help_text=_("No reminders or surveys here.")
    )
    # Set when mail to this address came back as a permanent delivery failure (a DSN bounce).
    bouncing_since = models.DateTimeField(
        _("bouncing since"),
        null=True,
        blank=True,
        help_text=_("Mail to this address came back undelivered."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "kind", "id"]
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "normalised_value"],
                name="contact_point_unique_per_customer",
                violation_error_message=_("This customer already has this contact."),
            ),
            models.UniqueConstraint(
                fields=["customer", "kind"],
                condition=Q(is_primary=True),
                name="contact_point_one_primary_per_kind",
                violation_error_message=_(
                    "The customer already has a primary contact of this kind."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(normalised_value=""),
                name="contact_point_normalised_not_blank",
                violation_error_message=_("Enter a contact value."),
            ),
        ]
        indexes = [
            # Caller-ID and email lookups: WHERE kind = %s AND normalised_value = %s.
            models.Index(fields=["kind", "normalised_value"], name="contact_point_lookup_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Never store a contact that lookups cannot match: normalise on every save.
        self.normalise()
        super().save(*args, **kwargs)

    def normalise(self) -> None:
        """Fill `normalised_value` from `value`; raise ValidationError naming `value` if bad."""
        try:
            if self.kind == self.Kind.PHONE:
                self.normalised_value = normalise_phone(self.value)
            elif self.kind == self.Kind.EMAIL:
                self.normalised_value = normalise_email(self.value)
            elif self.kind == self.Kind.MESSENGER:
                # A WhatsApp or Viber "handle" is a phone number; others are user names.
                if self.messenger in {self.Messenger.WHATSAPP, self.Messenger.VIBER}:
                    self.normalised_value = normalise_phone(self.value)
                else:
                    self.normalised_value = normalise_handle(self.value)
            else:
                raise ValidationError(
                    {"kind": _("Choose phone, email or messenger.")}, code="invalid_kind"
                )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                raise
            raise ValidationError({"value": exc.error_list}) from exc

    def clean(self) -> None:
        self.normalise()

    def validate_constraints(self, exclude: Any = None) -> None:
        # normalised_value derives from value: when value was refused, the constraints on the
        # blank normalised form would only add a cryptic second error for the same mistake.
        if exclude and "value" in exclude:
            exclude = {*exclude, "normalised_value"}
        super().validate_constraints(exclude=exclude)


class ProductCategory(models.Model):
    """A group of products; metrics split by it and reminder lead times may differ by it."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    # {"warranty": [30, 7], "support": [14], "renewal": []}: days ahead of the term's end at
    # which a reminder goes out; a kind missing here uses settings.REMINDER_LEAD_DAYS.
    reminder_lead_days = models.JSONField(
        _("reminder lead times, days"),
        null=True,
        blank=True,
        help_text=_(
            'Days before the end of a term to remind, per kind, e.g. {"warranty": [30, 7]}. '
            "Empty: the site's defaults. An empty list turns that reminder off."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.reminder_lead_days is not None:
            validate_lead_days(self.reminder_lead_days, field="reminder_lead_days")


class Product(models.Model):
    """Something the company sells: goods, a service, a subscription or a warranty extension."""

    class Kind(models.TextChoices):
        GOODS = "goods", _("Goods")
        SERVICE = "service", _("Service")
        SUBSCRIPTION = "subscription", _("Subscription")
        WARRANTY_EXTENSION = "warranty_extension", _("Warranty extension")

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    external_id = models.CharField(_("external ID"), max_length=100, blank=True)
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.GOODS)
    category = models.ForeignKey(
        ProductCategory,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
    )
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    # What one unit costs the company, for margin-based CLV; empty when unknown.
    cost = models.DecimalField(
        _("cost"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    warranty_months = models.PositiveSmallIntegerField(_("warranty, months"), default=0)
    support_months = models.PositiveSmallIntegerField(_("support contract, months"), default=0)
    subscription_months = models.PositiveSmallIntegerField(
        _("subscription period, months"), default=0, help_text=_("0: not a subscription.")
    )
    successor = models.ForeignKey(
        "self",
        verbose_name=_("successor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predecessors",
        help_text=_("The product that replaces this one."),
    )
    related_products = models.ManyToManyField(
        "self",
        verbose_name=_("related products"),
        blank=True,
        symmetrical=False,
        related_name="related_to",
    )
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=NOT_BLANK, name="product_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="product_price_not_negative",
                violation_error_message=_("The price cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0),
                name="product_cost_not_negative",
                violation_error_message=_("The cost cannot be negative."),
            ),
            models.CheckConstraint(
                condition=~Q(successor=F("id")),
                name="product_not_its_own_successor",
                violation_error_message=_("A product cannot replace itself."),
            ),
        ]
        indexes = [models.Index(fields=["updated_at"], name="product_updated_at_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def clean(self) -> None:
        if self.successor_id is not None and self.successor_id == self.pk:
            raise ValidationError({"successor": _("A product cannot replace itself.")})


class Purchase(ChoiceLabels, models.Model):
    """One line of an order: a product bought by a customer, with its service terms."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")

    # No index of its own: purchase_customer_time_idx leads with the customer (see there).
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="purchases",
        db_index=False,
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="purchases",
    )
    external_id = models.CharField(
        _("external ID"), max_length=100, blank=True, help_text=_("The order line in the shop.")
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(
        _("amount"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("What the customer paid for the line, in its currency."),
    )
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    channel = models.CharField(
        _("channel"), max_length=20, choices=SalesChannel.choices, default=SalesChannel.ONLINE
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.COMPLETED
    )
    purchased_at = models.DateTimeField(
        _("purchased at"), default=timezone.now, validators=[validate_past_moment]
    )
    # Derived from the product's terms on every save; read-only everywhere else.
    warranty_ends_on = models.DateField(
        _("warranty ends on"), null=True, blank=True, editable=False
    )
    support_ends_on = models.DateField(_("support ends on"), null=True, blank=True, editable=False)
    subscription_ends_on = models.DateField(
        _("subscription ends on"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-purchased_at", "-id"]
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=NOT_BLANK, name="purchase_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="purchase_amount_not_negative",
                violation_error_message=_("The amount cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1),
                name="purchase_quantity_positive",
                violation_error_message=_("The quantity must be at least 1."),
            ),
        ]
        indexes = [
            # The card's newest purchases in the order they are shown, and every other lookup
            # by customer. The only index leading with the customer on purpose: the card's
            # statements are prepared, and a prepared statement's generic plan, costed for an
            # average customer of a few purchases, chose a customer-only index and sorted all
            # of a 2,000-purchase customer's rows (2.4 ms instead of 0.6).
            models.Index(
                fields=["customer", "-purchased_at", "-id"], name="purchase_customer_time_idx"
            ),
            models.Index(fields=["purchased_at"], name="purchase_time_idx"),
            models.Index(fields=["updated_at"], name="purchase_updated_at_idx"),
            # The daily reminder jobs scan these ranges.
            models.Index(
                fields=["warranty_ends_on"],
                condition=Q(warranty_ends_on__isnull=False),
                name="purchase_warranty_end_idx",
            ),
            models.Index(
                fields=["support_ends_on"],
                condition=Q(support_ends_on__isnull=False),
                name="purchase_support_end_idx",
            ),
            models.Index(
                fields=["subscription_ends_on"],
                condition=Q(subscription_ends_on__isnull=False),
                name="purchase_subscription_end_idx",
            ),
            # One customer's terms ending soon: the card's "expiring" list and the offers to
            # extend them. Without these PostgreSQL ANDed the customer's purchases with every
            # customer's terms ending in the window (2.2 ms for a customer with 2,000
            # purchases, against 0.2 ms through these three, ORed).
            *(
                models.Index(
                    fields=["customer", term],
                    condition=Q(**{f"{term}__isnull": False}),
                    name=f"purchase_customer_{short}_idx",
                )
                for term, short in (
                    ("warranty_ends_on", "warranty"),
                    ("support_ends_on", "support"),
                    ("subscription_ends_on", "subscr"),
                )
            ),
        ]

    def __str__(self) -> str:
        what = self.product.name if self.product_id and self.product else _("purchase")
        return f"{what} · {self.amount} {self.currency}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None:
            self.derive_end_dates()
        elif {"product", "product_id", "purchased_at"} & set(update_fields):
            # Terms follow the product and the date; a save that changes neither keeps them.
            self.derive_end_dates()
            kwargs["update_fields"] = {
                *update_fields,
                "warranty_ends_on",
                "support_ends_on",
                "subscription_ends_on",
            }
        super().save(*args, **kwargs)

    @property
    def purchased_on(self) -> dt.date:
        """The purchase day in the site's time zone: terms run from this date."""
        # The site's zone, not the one activated for the current operator: a term must not
        # depend on who saved the purchase.
        return site_day(self.purchased_at)

    def derive_end_dates(self) -> None:
        """Set the warranty, support and subscription end dates from the product's terms."""
        product = self.product if self.product_id else None
        start = self.purchased_on

        def end(months: int) -> dt.date | None:
            return add_months(start, months) if product is not None and months else None

        self.warranty_ends_on = end(product.warranty_months if product else 0)
        self.support_ends_on = end(product.support_months if product else 0)
        self.subscription_ends_on = end(product.subscription_months if product else 0)


def check_same_customer(owner: models.Model, *fields: str) -> None:
    """Refuse a link to another customer's record (a purchase, an interaction): every path
    that cleans the model (the card's services, the API, the admin) answers with the field."""
    messages = {
        "interaction": _("The contact is from another customer."),
        "purchase": _("The purchase belongs to another customer."),
    }
    customer_id = owner.customer_id  # type: ignore[attr-defined]
    errors: dict[str, Any] = {}
    for field in fields:
        if getattr(owner, f"{field}_id") is None or customer_id is None:
            continue
        linked = getattr(owner, field)
        if linked.customer_id != customer_id:
            errors[field] = messages.get(field, _("This belongs to another customer."))
    if errors:
        raise ValidationError(errors)


class ProductCoPurchase(models.Model):
    """How many distinct customers bought both products (completed purchases): the card's
    "customers who bought X also bought Z", derived from purchases by customers.co_purchases.

    Both directions are kept, so a card reads the partners of what its customer owns with one
    index range per owned product."""

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+"
    )
    other_product = models.ForeignKey(
        Product, verbose_name=_("other product"), on_delete=models.CASCADE, related_name="+"
    )
    customers = models.PositiveIntegerField(_("customers"), default=0)

    class Meta:
        verbose_name = _("co-purchase count")
        verbose_name_plural = _("co-purchase counts")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "other_product"], name="co_purchase_pair_unique"
            ),
            models.CheckConstraint(
                condition=~Q(product=F("other_product")), name="co_purchase_two_products"
            ),
        ]
        indexes = [
            # The card: the strongest partners of each owned product, strongest first.
            models.Index(
                fields=["product", "-customers", "other_product"], name="co_purchase_strength_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} + {self.other_product_id}: {self.customers}"


class CoPurchaseState(models.Model):
    """One row: whether ProductCoPurchase needs a rebuild because a write it cannot follow
    incrementally (a purchase changed, deleted or merged) happened since the last rebuild."""

    stale_since = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("co-purchase state")
        verbose_name_plural = _("co-purchase state")

    def __str__(self) -> str:
        return f"stale since {self.stale_since}" if self.stale_since else "current"


class ValueToDate(models.Model):
    """A customer's completed purchases in one currency, summed: the card's value to date
    (`customers.selectors.historical_value`) read as one row per currency instead of an
    aggregate over the whole purchase history on every open.

    Derived data, kept by `customers.values` in the transaction of every write to the
    customer's purchases and of every product cost change (`metrics.purchase_days_upkeep`
    calls it with the per-day summary). Counts every completed purchase, also one dated
    later than now; `orders` are purchase days in `time_zone`. The card reads the purchases
    themselves when a row's latest purchase is later than now or its time zone is not the
    site's."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    currency = models.CharField(_("currency"), max_length=3)
    revenue = models.DecimalField(_("revenue"), max_digits=18, decimal_places=2)
    purchases = models.PositiveIntegerField(_("purchase lines"))
    orders = models.PositiveIntegerField(_("orders"))
    first_purchase_at = models.DateTimeField(_("first purchase"))
    last_purchase_at = models.DateTimeField(_("last purchase"))
    margin = models.DecimalField(
        _("margin"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    margin_purchases = models.PositiveIntegerField(_("purchase lines with a known cost"))
    time_zone = models.CharField(_("time zone of the orders"), max_length=64)

    class Meta:
        verbose_name = _("value to date")
        verbose_name_plural = _("values to date")
        constraints = [
            # Also the card's index: a customer's rows by their id.
            models.UniqueConstraint(
                fields=["customer", "currency"], name="value_to_date_currency_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.revenue} {self.currency}"


class CustomerTally(models.Model):
    """How many purchase lines and interactions a customer has: the "all N" beside the card's
    purchase and timeline lists, read with the list's rows instead of counting a long
    history on every open. Derived data, kept by `customers.tallies`."""

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    purchases = models.PositiveIntegerField(_("purchase lines"), default=0)
    interactions = models.PositiveIntegerField(_("interactions"), default=0)

    class Meta:
        verbose_name = _("customer tally")
        verbose_name_plural = _("customer tallies")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.purchases} purchases, {self.interactions} interactions"


class OwnedProduct(models.Model):
    """A product a customer owns (a completed purchase of it) and when they last bought it:
    what the card's next best offers start from (`customers.recommendations`), one row per
    product instead of a grouping of the customer's whole purchase history on every open.

    Derived data, kept with `ValueToDate` by `customers.values`."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+"
    )
    last_bought_at = models.DateTimeField(_("last bought"))

    class Meta:
        verbose_name = _("owned product")
        verbose_name_plural = _("owned products")
        constraints = [
            # Also the card's index: a customer's products in product order.
            models.UniqueConstraint(fields=["customer", "product"], name="owned_product_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} owns {self.product_id}"


class Interest(ChoiceLabels, models.Model):
    """A product the customer showed interest in and did not (yet) buy."""

    class Kind(models.TextChoices):
        CART = "cart", _("Left in cart")
        QUOTE = "quote", _("Quote requested")
        ENQUIRY = "enquiry", _("Enquiry")
        VIEW = "view", _("Viewed")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONVERTED = "converted", _("Converted")
        DISMISSED = "dismissed", _("Dismissed")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="interests"
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="interests",
    )
    description = models.CharField(
        _("description"), max_length=255, blank=True, help_text=_("When no product fits.")
    )
    external_id = models.CharField(_("external ID"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(
        _("amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    occurred_at = models.DateTimeField(
        _("occurred at"), default=timezone.now, validators=[validate_past_moment]
    )
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("became purchase"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="converted_interests",
    )
    closed_at = models.DateTimeField(
        _("closed at"), null=True, blank=True, validators=[validate_past_moment]
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("interest")
        verbose_name_plural = _("interests")
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=NOT_BLANK, name="interest_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(product__isnull=False) | ~Q(description=""),
                name="interest_has_product_or_description",
                violation_error_message=_("Name the product or describe the interest."),
            ),
            models.CheckConstraint(
                condition=Q(purchase__isnull=True) | Q(status="converted"),
                name="interest_purchase_only_when_converted",
                violation_error_message=_("Only a converted interest links to a purchase."),
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="interest_closed_at_matches_status",
                violation_error_message=_("A converted or dismissed interest has a closing time."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status", "-occurred_at"], name="interest_card_idx"),
            models.Index(fields=["occurred_at"], name="interest_time_idx"),
            models.Index(fields=["updated_at"], name="interest_updated_at_idx"),
        ]

    def __str__(self) -> str:
        what = self.product.name if self.product_id and self.product else self.description
        return f"{self.get_kind_display()}: {what}"

    def clean(self) -> None:
        check_same_customer(self, "purchase")


class Interaction(ChoiceLabels, models.Model):
    """One contact with a customer on any channel, or an internal note about them.

    Inbound contacts carry when they started, when an operator answered (empty if nobody did)
    and when they ended, so waiting time and abandonment are computed from the record itself.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")
        INTERNAL = "internal", _("Internal")

    class Kind(models.TextChoices):
        CONTACT = "contact", _("Contact")
        NOTE = "note", _("Note")
        REMINDER = "reminder", _("Reminder sent")
        SURVEY = "survey", _("Survey")
        OFFER = "offer", _("Offer")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="interactions",
        # No index of its own: interaction_timeline_idx leads with the customer (see there).
        db_index=False,
        help_text=_("Empty for a contact nobody identified (an abandoned call from a new number)."),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CONTACT)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    contact_address = models.CharField(
        _("from / to"), max_length=255, blank=True, help_text=_("The number or address used.")
    )
    external_id = models.CharField(
        _("external ID"), max_length=100, blank=True, help_text=_("Call or chat ID in its system.")
    )
    started_at = models.DateTimeField(
        _("started at"), default=timezone.now, validators=[validate_past_moment]
    )
    answered_at = models.DateTimeField(
        _("answered at"), null=True, blank=True, validators=[validate_past_moment]
    )
    ended_at = models.DateTimeField(
        _("ended at"), null=True, blank=True, validators=[validate_past_moment]
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )
    personalized = models.BooleanField(
        _("personalised"),
        default=False,
        help_text=_("The operator worked from the customer's card."),
    )
    summary = models.TextField(_("summary"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=NOT_BLANK,
                name="interaction_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(answered_at__gte=F("started_at")),
                name="interaction_answered_after_start",
                violation_error_message=_("An interaction cannot be answered before it started."),
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="interaction_ended_after_start",
                violation_error_message=_("An interaction cannot end before it started."),
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True)
                | Q(answered_at__isnull=True)
                | Q(ended_at__gte=F("answered_at")),
                name="interaction_ended_after_answer",
                violation_error_message=_("An interaction cannot end before it was answered."),
            ),
        ]
        indexes = [
            # The card's timeline in the order it is shown (and every lookup by customer): the
            # only index leading with the customer, so that a prepared statement's generic
            # plan reads ten rows of it in order instead of sorting all of a customer's
            # interactions (8.4 ms for 10,000 of them; 1.2 ms with this index).
            models.Index(
                fields=["customer", "-started_at", "-id"], name="interaction_timeline_idx"
            ),
            models.Index(fields=["started_at", "channel"], name="interaction_time_channel_idx"),
            models.Index(fields=["operator", "started_at"], name="interaction_operator_idx"),
            models.Index(fields=["updated_at"], name="interaction_updated_at_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.started_at:%Y-%m-%d %H:%M}"
        return f"{self.get_channel_display()} {self.get_direction_display()} {when}"

    # Whose it was when loaded: a save that moves it to another customer recounts both
    # customers' tallies (customers.tallies).
    _loaded_customer_id: int | None = None

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any, **kwargs: Any) -> Interaction:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_customer_id = instance.__dict__.get("customer_id")
        return instance

    @property
    def is_abandoned(self) -> bool:
        """An inbound contact the customer left before any operator answered."""
        return (
            self.direction == self.Direction.INBOUND
            and self.answered_at is None
            and self.ended_at is not None
        )

    @property
    def waiting_time(self) -> dt.timedelta | None:
        """How long an inbound contact waited for an operator (to the answer or hang-up)."""
        if self.direction != self.Direction.INBOUND:
            return None
        until = self.answered_at or self.ended_at
        return until - self.started_at if until else None


class Offer(ChoiceLabels, models.Model):
    """A recommendation an operator made to a customer, and what the customer said."""

    class Status(models.TextChoices):
        OFFERED = "offered", _("Offered")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    class Rule(models.TextChoices):
        SUCCESSOR = "successor", _("Successor of an old product")
        CO_PURCHASE = "co_purchase", _("Often bought together")
        WARRANTY_EXTENSION = "warranty_extension", _("Warranty ends soon")
        SUPPORT_RENEWAL = "support_renewal", _("Support contract ends soon")
        SUBSCRIPTION_RENEWAL = "subscription_renewal", _("Subscription renewal")
        REVIVE_INTEREST = "revive_interest", _("Open interest")
        MANUAL = "manual", _("Operator's own")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="offers"
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offers",
    )
    rule = models.CharField(_("rule"), max_length=30, choices=Rule.choices, default=Rule.MANUAL)
    reason = models.TextField(
        _("reason"), help_text=_("Why this offer, in words for the operator.")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OFFERED
    )
    offered_at = models.DateTimeField(
        _("offered at"), default=timezone.now, validators=[validate_past_moment]
    )
    responded_at = models.DateTimeField(
        _("responded at"), null=True, blank=True, validators=[validate_past_moment]
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="offers",
    )
    interaction = models.ForeignKey(
        Interaction,
        verbose_name=_("during interaction"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="offers",
    )
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("resulting purchase"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accepted_offers",
    )

    class Meta:
        ordering = ["-offered_at", "-id"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.CheckConstraint(
                condition=Q(status="offered", responded_at__isnull=True)
                | (~Q(status="offered") & Q(responded_at__isnull=False)),
                name="offer_responded_at_matches_status",
                violation_error_message=_("An accepted or declined offer has a response time."),
            ),
            models.CheckConstraint(
                condition=Q(purchase__isnull=True) | Q(status="accepted"),
                name="offer_purchase_only_when_accepted",
                violation_error_message=_("Only an accepted offer links to a purchase."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-offered_at"], name="offer_customer_time_idx"),
            models.Index(fields=["offered_at", "status"], name="offer_time_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()}: {self.product or self.reason[:40]}"

    def clean(self) -> None:
        check_same_customer(self, "interaction", "purchase")


class Reminder(OutboxMessage):
    """A proactive message that a warranty, support contract or subscription ends soon.

    `due_on` is the day it should go out (the end date less a lead time), so one purchase may
    get a reminder 30 days and another 7 days before its end; the same one never twice. It is
    sent through the outbox (core/outbox): `delivery_status`, attempts and the claim live there.
    """

    class Kind(models.TextChoices):
        WARRANTY = "warranty", _("Warranty ends")
        SUPPORT = "support", _("Support contract ends")
        RENEWAL = "renewal", _("Subscription renewal")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="reminders"
    )
    purchase = models.ForeignKey(
        Purchase, verbose_name=_("purchase"), on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    due_on = models.DateField(_("due on"))
    ends_on = models.DateField(_("term ends on"), null=True, blank=True)
    channel = models.CharField(
        _("channel"),
        max_length=20,
        choices=[(c.value, c.label) for c in DELIVERY_CHANNELS],
        default=Channel.EMAIL,
    )
    # Channels whose attempts ran out: the next one the customer consents to is tried instead.
    failed_channels = models.JSONField(_("channels given up on"), default=list, blank=True)
    contact_address = models.CharField(
        _("sent to"), max_length=255, blank=True, help_text=_("The address or number used.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-due_on", "-id"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["purchase", "kind", "due_on"],
                name="reminder_once_per_purchase_kind_due",
                violation_error_message=_("This reminder already exists."),
            ),
            *outbox_constraints("reminder"),
        ]
        indexes = [
            models.Index(
                fields=["due_on"],
                condition=Q(delivery_status__in=["pending", "sending"]),
                name="reminder_due_open_idx",
            ),
            models.Index(fields=["customer", "-due_on"], name="reminder_customer_idx"),
            *outbox_indexes("reminder"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.due_on}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.customer_id is None and self.purchase_id is not None:
            self.customer_id = self.purchase.customer_id
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.purchase_id and self.customer_id and self.purchase.customer_id != self.customer_id:
            raise ValidationError({"purchase": _("The purchase belongs to another customer.")})


class CustomerAlias(models.Model):
    """A customer merged into another: its old id, name and external ID still find the survivor."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="aliases"
    )
    merged_customer_id = models.PositiveBigIntegerField(_("merged customer's id"), unique=True)
    full_name = models.CharField(_("full name"), max_length=255)
    external_id = models.CharField(_("external ID"), max_length=100, blank=True)
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-merged_at", "-id"]
        verbose_name = _("customer alias")
        verbose_name_plural = _("customer aliases")
        indexes = [
            models.Index(
                fields=["external_id"], condition=NOT_BLANK, name="customer_alias_external_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.full_name} (#{self.merged_customer_id})"


class DataExportRecord(models.Model):
    """One export of a customer's personal data: who, when, which customer, through which path.

    Written by every exporter (`crm.privacy.export_customer`'s callers) and never edited. The
    customer is kept as a plain id too, so the record outlives a deleted customer.
    """

    class Path(models.TextChoices):
        API = "api", _("API")
        ADMIN = "admin", _("admin")
        CARD = "card", _("customer card")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    customer_number = models.PositiveBigIntegerField(_("customer ID"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("exported by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    path = models.CharField(_("path"), max_length=10, choices=Path.choices)
    exported_at = models.DateTimeField(_("exported at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-exported_at", "-id"]
        verbose_name = _("data export record")
        verbose_name_plural = _("data export records")

    def __str__(self) -> str:
        return f"{self.customer_number} · {self.get_path_display()} · {self.exported_at:%Y-%m-%d}"
