"""A call as the PBX reported it, and every event it sent (the idempotency log)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from customers.models import Customer, Interaction


class Direction(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")


class Outcome(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    TALKING = "talking", _("Talking")
    ANSWERED = "answered", _("Answered")
    ABANDONED = "abandoned", _("Abandoned")
    MISSED = "missed", _("Missed")
    NOT_REACHED = "not_reached", _("Not reached")


# Hangup causes (Zammad's generic CTI names) that mean the call never reached an operator's
# phone: the caller did not give up, the PBX could not put the call through.
NOT_DELIVERED_CAUSES = frozenset({"notFound", "congestion"})


class Call(models.Model):
    """One call, by the PBX's call ID: derived from its events whatever their order."""

    call_id = models.CharField(_("call ID"), max_length=100, unique=True)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    caller = models.CharField(
        _("caller"), max_length=64, blank=True, help_text=_("E.164 where it parses.")
    )
    called = models.CharField(
        _("called"), max_length=64, blank=True, help_text=_("E.164 where it parses.")
    )
    queue = models.CharField(_("queue"), max_length=100, blank=True)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
        help_text=_("The team named like the queue, or the team of the operator it rang."),
    )
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operators rung"),
        blank=True,
        related_name="calls_rung",
    )
    rang_at = models.DateTimeField(_("rang at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls_answered",
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    cause = models.CharField(_("cause"), max_length=64, blank=True)
    swept_at = models.DateTimeField(
        _("closed by the sweep at"),
        null=True,
        blank=True,
        help_text=_("Set when no hangup arrived in time; a late hangup still corrects the call."),
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
    )
    interaction = models.OneToOneField(
        Interaction,
        verbose_name=_("interaction"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call",
    )
    called_back_by = models.ForeignKey(
        "self",
        verbose_name=_("called back by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="closes_missed",
        help_text=_("The answered outbound call to the same number that closed this one."),
    )

    class Meta:
        ordering = ["-rang_at", "-id"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        indexes = [models.Index(fields=["rang_at"]), models.Index(fields=["caller", "rang_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(answered_at__gte=F("rang_at")),
                name="call_answered_after_ringing",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("rang_at")),
                name="call_ended_after_ringing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_id}: {self.caller} → {self.called}"

    @property
    def remote_number(self) -> str:
        """The customer's side of the call: the caller of an inbound call, else the called."""
        return self.caller if self.direction == Direction.INBOUND else self.called

    @property
    def waiting_seconds(self) -> float | None:
        if self.answered_at is None:
            return None
        return (self.answered_at - self.rang_at).total_seconds()

    @property
    def outcome(self) -> str:
        """Answered; abandoned (inbound, given up after reaching an operator or a queue);
        missed (inbound, never reached one); not reached (an outbound call nobody took)."""
        if self.answered_at is not None:
            return Outcome.ANSWERED if self.ended_at is not None else Outcome.TALKING
        if self.ended_at is None:
            return Outcome.RINGING
        if self.direction == Direction.OUTBOUND:
            return Outcome.NOT_REACHED
        reached = self.cause not in NOT_DELIVERED_CAUSES and bool(
            self.queue or self.team_id or self.has_operators
        )
        return Outcome.ABANDONED if reached else Outcome.MISSED

    @property
    def has_operators(self) -> bool:
        cached = getattr(self, "_prefetched_objects_cache", {}).get("operators")
        if cached is not None:
            return bool(cached)
        return self.operators.exists()


class CallEvent(models.Model):
    """Each event the PBX sent, once: a repeated event is recognised and changes nothing.

    Its `add_callevent` permission is the one thing the PBX's token (role Telephony) may do.
    """

    class Kind(models.TextChoices):
        NEW_CALL = "newCall", _("New call")
        ANSWER = "answer", _("Answer")
        HANGUP = "hangup", _("Hangup")

    call_id = models.CharField(_("call ID"), max_length=100)
    event = models.CharField(_("event"), max_length=10, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    payload = models.JSONField(_("payload"), default=dict)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        constraints = [
            models.UniqueConstraint(fields=["call_id", "event"], name="callevent_once_per_call")
        ]

    def __str__(self) -> str:
        return f"{self.call_id} {self.event}"
