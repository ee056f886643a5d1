"""CSAT, NPS and CES surveys: what is asked, who is invited, and what they answered."""

from __future__ import annotations

import datetime as dt
import enum
import math
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.outbox.models import OutboxMessage, outbox_constraints, outbox_indexes
from customers.dates import validate_past_moment
from customers.models import DELIVERY_CHANNELS, Channel, Customer, Purchase
from tickets.models import Ticket

# The scales the industry uses when a survey does not say otherwise.
DEFAULT_SCALES: dict[str, tuple[int, int]] = {"CSAT": (1, 5), "NPS": (0, 10), "CES": (1, 7)}
# CSAT counts the top quarter of the scale as satisfied: 4-5 on 1-5, 8-10 on 1-10.
SATISFIED_SHARE_OF_SCALE = 0.75
# NPS bands on its 0-10 scale (Reichheld's definition): promoters answer 9-10, passives 7-8,
# detractors 0-6. Promoters are the NPS survey's "satisfied" ones. The card's badges, the
# metrics and the demo data all read the bands from here (`nps_band`).
NPS_PROMOTER_MIN = 9
NPS_PASSIVE_MIN = 7
NPS_DETRACTOR_MAX = NPS_PASSIVE_MIN - 1
DEFAULT_INVITATION_TTL_DAYS = 14
TOKEN_BYTES = 32  # 256 bits: not guessable, 43 URL-safe characters


class NPSBand(enum.StrEnum):
    PROMOTER = "promoter"
    PASSIVE = "passive"
    DETRACTOR = "detractor"


def nps_band(score: int) -> NPSBand:
    """Where an NPS answer falls: promoter (9-10), passive (7-8) or detractor (0-6)."""
    if score >= NPS_PROMOTER_MIN:
        return NPSBand.PROMOTER
    if score >= NPS_PASSIVE_MIN:
        return NPSBand.PASSIVE
    return NPSBand.DETRACTOR


def generate_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class Survey(models.Model):
    """One question on a scale: customer satisfaction, net promoter score or customer effort."""

    class Kind(models.TextChoices):
        CSAT = "CSAT", _("CSAT: customer satisfaction")
        NPS = "NPS", _("NPS: net promoter score")
        CES = "CES", _("CES: customer effort")

    class EasyEnd(models.TextChoices):
        HIGH = "high", _("High scores mean easy")
        LOW = "low", _("Low scores mean easy")

    class Trigger(models.TextChoices):
        TICKET_RESOLVED = "ticket_resolved", _("When a ticket is resolved")
        PURCHASE = "purchase", _("Days after a purchase")
        PERIODIC = "periodic", _("Periodically")
        MANUAL = "manual", _("Sent by hand")

    name = models.CharField(_("name"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices)
    # {"en": "...", "ru": "..."}; a language missing here gets the built-in question.
    questions = models.JSONField(_("question per language"), default=dict, blank=True)
    scale_min = models.SmallIntegerField(_("lowest score"), blank=True)
    scale_max = models.SmallIntegerField(_("highest score"), blank=True)
    satisfied_threshold = models.SmallIntegerField(
        _("satisfied threshold"),
        blank=True,
        help_text=_(
            "CSAT: this score and above count as satisfied. CES: scores from here towards the "
            "easy end count as easy. Empty: derived from the scale."
        ),
    )
    easy_end = models.CharField(
        _("easy end (CES)"), max_length=4, choices=EasyEnd.choices, default=EasyEnd.HIGH
    )
    trigger = models.CharField(
        _("trigger"), max_length=20, choices=Trigger.choices, default=Trigger.MANUAL
    )
    delay_days = models.PositiveSmallIntegerField(
        _("delay, days"), default=0, help_text=_("How long after the trigger to invite.")
    )
    repeat_after_days = models.PositiveSmallIntegerField(
        _("ask the same customer again after, days"),
        null=True,
        blank=True,
        help_text=_("Periodic surveys: at most one invitation per customer in this many days."),
    )
    invitation_ttl_days = models.PositiveSmallIntegerField(
        _("invitation valid for, days"), default=DEFAULT_INVITATION_TTL_DAYS
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["kind", "name", "id"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        constraints = [
            models.CheckConstraint(
                condition=Q(scale_min__lt=F("scale_max")),
                name="survey_scale_ordered",
                violation_error_message=_("The lowest score must be below the highest."),
            ),
            models.CheckConstraint(
                condition=Q(satisfied_threshold__gte=F("scale_min"))
                & Q(satisfied_threshold__lte=F("scale_max")),
                name="survey_threshold_on_scale",
                violation_error_message=_("The threshold must lie on the scale."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="NPS") | Q(scale_min=0, scale_max=10),
                name="survey_nps_is_zero_to_ten",
                violation_error_message=_("NPS is asked on a 0-10 scale."),
            ),
            models.CheckConstraint(
                condition=Q(scale_min__gte=0),
                name="survey_scale_not_negative",
                violation_error_message=_("Scores cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        label = self.name or self.get_kind_display()
        return f"{label} ({self.scale_min}-{self.scale_max})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.apply_defaults()
        super().save(*args, **kwargs)

    def apply_defaults(self) -> None:
        """Fill the scale and threshold the survey left empty from its kind."""
        default_min, default_max = DEFAULT_SCALES.get(self.kind, (1, 5))
        if self.scale_min is None:
            self.scale_min = default_min
        if self.scale_max is None:
            self.scale_max = default_max
        if self.satisfied_threshold is None:
            self.satisfied_threshold = self.default_threshold()

    def default_threshold(self) -> int:
        """The score from which answers count as satisfied (CSAT, NPS) or easy (CES)."""
        low, high = self.scale_min, self.scale_max
        if self.kind == self.Kind.NPS:
            return NPS_PROMOTER_MIN
        if self.kind == self.Kind.CES:
            # Easy = the easy side of the midpoint: 5-7 (or 1-3) on 1-7.
            middle = (low + high) / 2
            if self.easy_end == self.EasyEnd.HIGH:
                return math.floor(middle) + 1
            return math.ceil(middle) - 1
        return low + math.ceil(SATISFIED_SHARE_OF_SCALE * (high - low))

    def is_satisfied(self, score: int) -> bool:
        """Whether a score counts as satisfied (CSAT) or easy (CES) on this survey."""
        if self.kind == self.Kind.CES and self.easy_end == self.EasyEnd.LOW:
            return score <= self.satisfied_threshold
        return score >= self.satisfied_threshold

    def question_for(self, language: str) -> str:
        """The question in `language`, falling back to the built-in one in that language."""
        text = (self.questions or {}).get(language)
        if text:
            return str(text)
        with translation.override(language):
            return str(DEFAULT_QUESTIONS[self.kind])

    def clean(self) -> None:
        self.apply_defaults()
        unknown = set(self.questions or {}) - {code for code, _name in settings.LANGUAGES}
        if unknown:
            raise ValidationError(
                {
                    "questions": _("Unknown language: %(codes)s.")
                    % {"codes": ", ".join(sorted(unknown))}
                }
            )


DEFAULT_QUESTIONS: dict[str, Any] = {
    Survey.Kind.CSAT: _("How satisfied are you with the service you received?"),
    Survey.Kind.NPS: _("How likely are you to recommend us to a friend or colleague?"),
    Survey.Kind.CES: _("How easy was it to get your issue resolved?"),
}


# Reads the secret of an answer link; held by integrations that deliver links, by no staff role.
INVITATION_TOKEN_PERMISSION = "surveys.view_invitation_token"


class SurveyInvitation(OutboxMessage):
    """An invitation to one customer to answer one survey, reachable by its secret token.

    `cause` names what prompted it ("ticket:42", "purchase:7", "periodic:2026-11"): a customer
    is invited at most once per survey and cause. It is sent through the outbox (core/outbox):
    `sent_at` is when the provider accepted it, `claimed_at` when a worker took it.
    """

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.PROTECT, related_name="invitations"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="survey_invitations",
    )
    token = models.CharField(
        _("token"), max_length=64, unique=True, default=generate_token, editable=False
    )
    cause = models.CharField(_("cause"), max_length=100, blank=True)
    # What the answer is about, so metrics can be cut by ticket, operator and channel.
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_invitations",
    )
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("purchase"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_invitations",
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_invitations",
    )
    channel = models.CharField(
        _("service channel"),
        max_length=20,
        choices=Channel.choices,
        blank=True,
        help_text=_("The channel the customer was served through."),
    )
    personalized = models.BooleanField(_("personalised service"), default=False)
    delivery_channel = models.CharField(
        _("sent through"),
        max_length=20,
        choices=[(c.value, c.label) for c in DELIVERY_CHANNELS],
        default=Channel.EMAIL,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        # The token answers as the customer: only integrations that deliver the link see it.
        permissions = [("view_invitation_token", _("Can see survey invitation tokens"))]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "customer", "cause"],
                condition=~Q(cause=""),
                name="survey_invitation_once_per_cause",
                violation_error_message=_("This customer was already invited for this cause."),
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="survey_invitation_expires_after_creation",
                violation_error_message=_("An invitation must expire after it was created."),
            ),
            *outbox_constraints("survey_invitation"),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="invitation_customer_idx"),
            models.Index(
                fields=["created_at"],
                condition=Q(delivery_status__in=["pending", "sending"]),
                name="invitation_undelivered_idx",
            ),
            *outbox_indexes("survey_invitation"),
        ]

    def __str__(self) -> str:
        return f"{self.survey.get_kind_display()} → {self.customer}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.expires_at is None:
            ttl = self.survey.invitation_ttl_days or DEFAULT_INVITATION_TTL_DAYS
            self.expires_at = self.created_at + dt.timedelta(days=ttl)
        super().save(*args, **kwargs)

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.expires_at


class SurveyResponse(models.Model):
    """A customer's answer to an invitation: one per invitation."""

    class Sentiment(models.TextChoices):
        POSITIVE = "positive", _("Positive")
        NEUTRAL = "neutral", _("Neutral")
        NEGATIVE = "negative", _("Negative")

    invitation = models.OneToOneField(
        SurveyInvitation,
        verbose_name=_("invitation"),
        on_delete=models.PROTECT,
        related_name="response",
    )
    score = models.SmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    sentiment = models.CharField(
        _("comment sentiment"), max_length=10, choices=Sentiment.choices, blank=True
    )
    answered_at = models.DateTimeField(
        _("answered at"), default=timezone.now, validators=[validate_past_moment]
    )

    class Meta:
        ordering = ["-answered_at", "-id"]
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=0),
                name="survey_response_score_not_negative",
                violation_error_message=_("Scores cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(sentiment="") | ~Q(comment=""),
                name="survey_response_sentiment_needs_comment",
                violation_error_message=_("Only a comment has a sentiment."),
            ),
        ]
        indexes = [models.Index(fields=["answered_at"], name="survey_response_time_idx")]

    def __str__(self) -> str:
        return f"{self.score} · {self.invitation}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The database cannot compare with the survey's scale, so every save checks it here.
        self.validate_score()
        super().save(*args, **kwargs)

    def validate_score(self) -> None:
        """Raise ValidationError naming `score` when it lies off the survey's scale."""
        survey = self.invitation.survey
        if self.score is None or not survey.scale_min <= self.score <= survey.scale_max:
            raise ValidationError(
                {
                    "score": _("Choose a score from %(low)s to %(high)s.")
                    % {"low": survey.scale_min, "high": survey.scale_max}
                },
                code="score_off_scale",
            )

    def clean(self) -> None:
        if self.invitation_id is not None:
            self.validate_score()
