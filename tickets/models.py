"""Tickets, their conversation, their history and the SLA they are measured against.

The status machine lives here (`TRANSITIONS`, `Ticket.check_transition`) and is enforced on
every save, so the UI, the API and the admin cannot move a ticket in a way it may not go.
The effects of a move (timestamps, history) are applied by `tickets.services`.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_time_zone
from core.choices import ChoiceLabels
from core.expressions import SecondsBetween
from customers.models import Channel, Customer, Interaction, Purchase
from tickets.business_hours import BusinessCalendar


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# Where a ticket may go from each status. A ticket answered at the first contact goes straight
# from new to resolved (first contact resolution); a resolved ticket may be reopened; a closed
# one is final (the customer's next request is a new ticket).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED}),
    Status.OPEN: frozenset({Status.PENDING, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)
DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)


class IllegalTransition(ValidationError):
    """A status change the ticket workflow does not allow."""


class SLAPolicy(models.Model):
    """Targets for first response and resolution, for tickets of one priority.

    With a business-hours schedule the clocks count only working time in `time_zone`;
    `business_hours` maps ISO weekday numbers ("1" = Monday) to [["09:00", "18:00"], ...].
    """

    name = models.CharField(_("name"), max_length=100)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(_("first response target, minutes"))
    resolution_minutes = models.PositiveIntegerField(_("resolution target, minutes"))
    business_hours = models.JSONField(_("business hours"), null=True, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone]
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(
                fields=["priority"],
                condition=Q(is_active=True),
                name="sla_one_active_policy_per_priority",
                violation_error_message=_("Another active policy already covers this priority."),
            ),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gt=0) & Q(resolution_minutes__gt=0),
                name="sla_targets_positive",
                violation_error_message=_("Targets must be longer than zero minutes."),
            ),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gte=F("first_response_minutes")),
                name="sla_resolution_not_before_first_response",
                violation_error_message=_(
                    "The resolution target cannot be shorter than the first response target."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_priority_display()})"

    def clean(self) -> None:
        if self.business_hours:
            try:
                BusinessCalendar.parse(self.business_hours, self.time_zone or settings.TIME_ZONE)
            except ValidationError as exc:
                raise ValidationError({"business_hours": exc.messages}) from exc


class Ticket(ChoiceLabels, models.Model):
    """A customer's request, from the first contact to its resolution.

    The ticket number operators read out is its primary key (`number`).
    """

    # No index of its own: ticket_customer_idx and ticket_customer_fresh_idx lead with it.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="tickets",
        db_index=False,
    )
    subject = models.CharField(_("subject"), max_length=255)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("purchase (warranty claim)"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    external_id = models.CharField(_("external ID"), max_length=100, blank=True)
    personalized = models.BooleanField(
        _("personalised"), default=False, help_text=_("Handled from the customer's card.")
    )
    # How many times the customer had to get in touch about this ticket; 1 at creation.
    customer_contacts = models.PositiveIntegerField(_("customer contacts"), default=1)
    reopened_count = models.PositiveIntegerField(_("times reopened"), default=0, editable=False)
    sla_policy = models.ForeignKey(
        SLAPolicy,
        verbose_name=_("SLA policy"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    # When each clock has 20% of its target left, walked through business hours when the SLA was
    # applied (tickets.sla.due_times), so that "at risk" is a plain comparison in SQL.
    first_response_at_risk_at = models.DateTimeField(
        _("first response at risk from"), null=True, blank=True, editable=False
    )
    resolution_at_risk_at = models.DateTimeField(
        _("resolution at risk from"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    first_response_at = models.DateTimeField(
        _("first response at"), null=True, blank=True, editable=False
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # The status as last read from or written to the database; None for an unsaved ticket.
    _stored_status: str | None = None

    interactions = models.ManyToManyField(
        Interaction,
        verbose_name=_("interactions"),
        through="TicketContact",
        related_name="tickets",
        blank=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="ticket_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True)
                | Q(first_response_at__gte=F("created_at")),
                name="ticket_first_response_after_creation",
                violation_error_message=_(
                    "The first response cannot come before the ticket was created."
                ),
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("created_at")),
                name="ticket_resolved_after_creation",
                violation_error_message=_("A ticket cannot be resolved before it was created."),
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["resolved", "closed"]) | Q(resolved_at__isnull=False),
                name="ticket_resolved_has_resolved_at",
                violation_error_message=_("A resolved or closed ticket has a resolution time."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["resolved", "closed"]) | Q(resolved_at__isnull=True),
                name="ticket_unresolved_has_no_resolved_at",
                violation_error_message=_("A ticket that is not resolved has no resolution time."),
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False)
                | (~Q(status="closed") & Q(closed_at__isnull=True)),
                name="ticket_closed_at_matches_status",
                violation_error_message=_(
                    "A closed ticket, and only a closed one, has a closing time."
                ),
            ),
            models.CheckConstraint(
                condition=Q(customer_contacts__gte=1),
                name="ticket_at_least_one_contact",
                violation_error_message=_("A ticket has at least one customer contact."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="ticket_customer_idx"),
            # The card's open and closed tickets, freshest first, with their counts: read in
            # order, the status checked in the index (a count reads no table rows). Without
            # it a prepared statement's generic plan sorted all of a customer's tickets.
            models.Index(
                fields=["customer", "-updated_at", "-id"],
                include=["status"],
                name="ticket_customer_fresh_idx",
            ),
            # The card's open tickets, freshest first: a customer with hundreds open (a
            # reseller, an integration that files one per alert) is planned by the ticket
            # counts of an average customer, a handful, and PostgreSQL read all of them and
            # sorted them for five rows (1 ms against 0.15 at 250 open). Open tickets only:
            # a small index, and its own statistics tell how many a customer has open.
            models.Index(
                fields=["customer", "-updated_at", "-id"],
                condition=Q(status__in=["new", "open", "pending"]),
                name="ticket_customer_open_idx",
            ),
            models.Index(fields=["status", "priority", "created_at"], name="ticket_queue_idx"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            models.Index(fields=["created_at"], name="ticket_created_idx"),
            models.Index(fields=["resolved_at"], name="ticket_resolved_idx"),
            models.Index(fields=["updated_at"], name="ticket_updated_at_idx"),
            # The median resolution time reads the resolved tickets of one bucket of
            # resolution times, in order (metrics/resolution_histogram.py): the expression is
            # the one the metrics compute, so PostgreSQL matches it, and the columns it reads
            # are included, so the index alone answers.
            models.Index(
                SecondsBetween(F("created_at"), F("resolved_at")),
                condition=Q(resolved_at__isnull=False),
                include=["created_at", "resolved_at", "personalized"],
                name="ticket_resolution_time_idx",
            ),
            # "At risk" and "breached" queues scan open tickets by their due times.
            models.Index(
                fields=["resolution_due_at"],
                condition=Q(status__in=["new", "open", "pending"]),
                name="ticket_active_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        stored = self._stored_status
        if stored is not None:
            self.check_transition(self.status, from_status=stored)
        super().save(*args, **kwargs)
        self._stored_status = self.status

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any, **kwargs: Any) -> Ticket:
        instance = super().from_db(db, field_names, values, **kwargs)
        # Remember the stored status, so that save() can refuse an illegal move.
        instance._stored_status = instance.__dict__.get("status")
        return instance

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        if "status" in self.__dict__:
            self._stored_status = self.status

    @property
    def number(self) -> int | None:
        """The number operators and customers quote: the primary key."""
        return self.pk

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def check_transition(self, to_status: str, from_status: str | None = None) -> None:
        """Raise IllegalTransition unless the workflow allows moving to `to_status`."""
        current = from_status if from_status is not None else self.status
        if to_status == current:
            return
        if to_status not in TRANSITIONS.get(current, frozenset()):
            raise IllegalTransition(
                {
                    "status": _("A ticket cannot go from “%(from)s” to “%(to)s”.")
                    % {
                        "from": Status(current).label,
                        "to": Status(to_status).label if to_status in Status.values else to_status,
                    }
                },
                code="illegal_transition",
            )

    def clean(self) -> None:
        stored = self._stored_status
        if stored is not None:
            self.check_transition(self.status, from_status=stored)
        purchase = self.purchase if self.purchase_id else None
        if purchase is not None and purchase.customer_id != self.customer_id:
            raise ValidationError({"purchase": _("The purchase belongs to another customer.")})


class Sentiment(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


class TicketMessage(models.Model):
    """One message in a ticket's conversation: the customer's, an operator's reply or a note."""

    class Author(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        OPERATOR = "operator", _("Operator")
        SYSTEM = "system", _("System")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="messages"
    )
    author_kind = models.CharField(_("author"), max_length=10, choices=Author.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ticket_messages",
    )
    body = models.TextField(_("text"))
    is_internal = models.BooleanField(
        _("internal note"), default=False, help_text=_("Seen by staff only.")
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    # Of a customer's message, by the survey comments' classifier (surveys.sentiment); empty
    # when not classified. A negative one marks the ticket in the queue.
    sentiment = models.CharField(
        _("sentiment"), max_length=10, choices=Sentiment.choices, blank=True
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        # Writing as the customer is for the customer's channels (integrations), not staff.
        permissions = [("add_customer_message", _("Can add messages as the customer"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_internal=False) | Q(author_kind="operator"),
                name="ticket_message_internal_by_operator",
                violation_error_message=_("Only an operator writes internal notes."),
            ),
            models.CheckConstraint(
                condition=~Q(body=""),
                name="ticket_message_body_not_blank",
                violation_error_message=_("Write a message."),
            ),
        ]
        indexes = [
            models.Index(fields=["ticket", "-created_at"], name="ticket_message_idx"),
            # The sentiment metric's reads of classified customer messages by time.
            models.Index(
                fields=["created_at"],
                condition=Q(author_kind="customer", is_internal=False) & ~Q(sentiment=""),
                name="ticket_message_sentiment_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_author_kind_display()}: {self.body[:50]}"


class TicketContact(models.Model):
    """Links a customer contact (a call, an email, a chat) to the ticket it was about.

    An interaction belongs to at most one ticket. The link lives here, not on Interaction,
    because `customers` does not know about tickets.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="contacts"
    )
    interaction = models.OneToOneField(
        Interaction,
        verbose_name=_("interaction"),
        on_delete=models.CASCADE,
        related_name="ticket_contact",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket contact")
        verbose_name_plural = _("ticket contacts")

    def __str__(self) -> str:
        return f"#{self.ticket_id} ← {self.interaction}"

    def clean(self) -> None:
        if (
            self.ticket_id
            and self.interaction_id
            and self.interaction.customer_id != self.ticket.customer_id
        ):
            raise ValidationError({"interaction": _("The contact is from another customer.")})


class TicketEvent(models.Model):
    """What happened to a ticket and who did it: created, status, assignee, priority."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        PRIORITY = "priority", _("Priority changed")
        CONTACT = "contact", _("Customer got in touch")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ticket_events",
    )
    from_value = models.CharField(_("from"), max_length=100, blank=True)
    to_value = models.CharField(_("to"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticket_event_idx")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.get_kind_display()} {self.from_value}→{self.to_value}"


def attachment_path(instance: TicketAttachment, filename: str) -> str:
    """Where an attachment's file goes in storage: by ticket, never by the sender's file name."""
    stamp = timezone.now()
    return f"tickets/{stamp:%Y/%m}/{instance.message.ticket_id}/{uuid.uuid4().hex}"


class TicketAttachment(models.Model):
    """A file that came with a message (or was added to a reply), kept in Django's storage.

    `content_type` is what the content itself is (sniffed), not what the sender declared;
    inline images keep their Content-ID so the message can show them where they were.
    """

    message = models.ForeignKey(
        TicketMessage,
        verbose_name=_("message"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size, bytes"))
    content_id = models.CharField(_("Content-ID"), max_length=255, blank=True)
    is_inline = models.BooleanField(_("inline"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename
