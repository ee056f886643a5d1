"""Which writes uncover which rolled-up days of the fact families (`metrics.rollups`, markers
in `metrics.rollup_days`), connected from MetricsConfig.ready() so that customers, tickets and
surveys import nothing from metrics.

Each model whose rows feed a family is *watched*: the instant that places a row on a day
and the fields whose change can move that day's aggregates (its own facts and the dimensions
it is grouped by). The values a row was loaded with are remembered at `post_init` (no query);
a save that changes a watched field bumps the old and the new day, a new row its day, a
delete its day, all inside the writer's transaction. A few writes move aggregates of *other*
rows: a survey's scale, threshold or easy end (every answer to it), an invitation's channel,
operator, flag or survey (its answer), an interaction's channel or flag (its offers), a
ticket's assignee or flag (its customer's classified messages), a deleted operator (their
groups). Those ask the database which days they touch, only when such
a field changed. Writes without signals send `customers.signals.rows_written`.

Not watched, because nothing aggregated changes: the erasure of a customer (crm/privacy.py
blanks texts: contact addresses, summaries, descriptions, comments, which keep being
non-empty), delivery bookkeeping on invitations (`.update()` of delivery fields).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, F, Model, OuterRef
from django.db.models.signals import post_delete, post_init, post_save, pre_delete, pre_save

from customers.models import Interaction, Interest, Offer
from customers.signals import rows_written
from metrics import answer_cache
from metrics.models import FactRollup, FactRollupDay
from metrics.rollup_days import invalidate, local_day
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tickets.models import Ticket, TicketMessage

LOADED = "_rollup_loaded"
_UNKNOWN = object()  # a deferred field: its stored value was not loaded


@dataclass(frozen=True)
class Watch:
    """A family fed by the model's rows: the instant placing a row on a day, the fields
    (attnames) whose change moves that day's aggregates, and the values a row must have to
    be read by the family at all (outbound contacts and notes are no inbound contacts)."""

    family: str
    time_field: str
    fields: tuple[str, ...]
    only: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def days(self, *states: Mapping[str, Any]) -> list[tuple[str, dt.date | None]]:
        """The (family, day) of each state (row values) the family reads."""
        return [
            (self.family, local_day(state.get(self.time_field)))
            for state in states
            if all(state.get(name) == value for name, value in self.only.items())
        ]


DIMENSIONS_OF_TICKETS = ("channel", "assignee_id", "personalized")
WATCHES: dict[type[Model], tuple[Watch, ...]] = {
    Ticket: (
        Watch(
            "tickets_created",
            "created_at",
            ("created_at", "first_response_at", "resolved_at", *DIMENSIONS_OF_TICKETS),
        ),
        Watch(
            "tickets_resolved",
            "resolved_at",
            ("created_at", "resolved_at", "customer_contacts", *DIMENSIONS_OF_TICKETS),
        ),
    ),
    Interaction: (
        Watch(
            "inbound",
            "started_at",
            (
                "kind",
                "direction",
                "channel",
                "started_at",
                "answered_at",
                "ended_at",
                "operator_id",
                "personalized",
                "external_id",
            ),
            only={"kind": Interaction.Kind.CONTACT, "direction": Interaction.Direction.INBOUND},
        ),
    ),
    SurveyResponse: (
        Watch("responses", "answered_at", ("score", "sentiment", "answered_at", "invitation_id")),
    ),
    TicketMessage: (
        Watch(
            "messages",
            "created_at",
            ("author_kind", "is_internal", "sentiment", "created_at", "channel", "ticket_id"),
            only={"author_kind": TicketMessage.Author.CUSTOMER},
        ),
    ),
    Offer: (
        Watch(
            "offer_conversion_rate",
            "offered_at",
            ("status", "offered_at", "operator_id", "interaction_id"),
        ),
    ),
    Interest: (
        Watch("interest_conversion_rate", "occurred_at", ("channel", "status", "occurred_at")),
    ),
}


def _response_days(**lookups: Any) -> list[tuple[str, dt.date | None]]:
    instants = SurveyResponse.objects.filter(**lookups).values_list("answered_at", flat=True)
    return [("responses", day) for day in {local_day(at) for at in instants}]


def _message_days(**lookups: Any) -> list[tuple[str, dt.date | None]]:
    instants = (
        TicketMessage.objects.filter(author_kind=TicketMessage.Author.CUSTOMER, **lookups)
        .exclude(sentiment="")
        .values_list("created_at", flat=True)
    )
    return [("messages", day) for day in {local_day(at) for at in instants}]


def _offer_days(**lookups: Any) -> list[tuple[str, dt.date | None]]:
    instants = Offer.objects.filter(**lookups).values_list("offered_at", flat=True)
    return [("offer_conversion_rate", day) for day in {local_day(at) for at in instants}]


@dataclass(frozen=True)
class Dependents:
    """Fields of a model that feed other rows' aggregates, and those rows' days; whether its
    deletion changes them (not when those rows PROTECT it)."""

    fields: tuple[str, ...]
    days: Callable[[Model], list[tuple[str, dt.date | None]]]
    on_delete: bool = False


DEPENDENTS: dict[type[Model], Dependents] = {
    Survey: Dependents(
        ("kind", "scale_min", "scale_max", "satisfied_threshold", "easy_end"),
        lambda survey: _response_days(invitation__survey_id=survey.pk),
    ),
    SurveyInvitation: Dependents(
        ("survey_id", "channel", "operator_id", "personalized"),
        lambda invitation: _response_days(invitation_id=invitation.pk),
    ),
    Ticket: Dependents(
        ("assignee_id", "personalized"),
        lambda ticket: _message_days(ticket_id=ticket.pk),
    ),
    Interaction: Dependents(
        ("channel", "personalized"),
        lambda interaction: _offer_days(interaction_id=interaction.pk),
        on_delete=True,  # Offer.interaction is SET_NULL
    ),
}


def _tracked(model: type[Model]) -> tuple[str, ...]:
    fields = {field for watch in WATCHES.get(model, ()) for field in watch.fields}
    if model in DEPENDENTS:
        fields |= set(DEPENDENTS[model].fields)
    return tuple(sorted(fields))


def _remember(instance: Model, names: Iterable[str] | None = None) -> None:
    """Remember the tracked fields' values now (of the fields `names` only, when given: a
    save with update_fields wrote no others)."""
    tracked = _tracked(type(instance))
    if names is not None:
        meta = instance._meta
        written = {getattr(meta.get_field(name), "attname", name) for name in names}
        tracked = tuple(field for field in tracked if field in written)
    remembered = getattr(instance, LOADED, {})
    for field in tracked:
        remembered[field] = instance.__dict__.get(field, _UNKNOWN)
    setattr(instance, LOADED, remembered)


def loaded(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    """post_init: the values as loaded (or as constructed), to compare with at save."""
    _remember(instance)


def before_save(sender: type[Model], instance: Model, raw: bool = False, **kwargs: Any) -> None:
    """pre_save: a field deferred at load has an unknown stored value, and so has every field
    of an instance built with the primary key of a row that may exist; read them (rare)."""
    if instance.pk is None:
        return
    remembered = getattr(instance, LOADED, {})
    if instance._state.adding:
        unknown = list(_tracked(sender))
    else:
        unknown = [field for field, value in remembered.items() if value is _UNKNOWN]
    if unknown:
        stored = (
            sender._default_manager.using(kwargs.get("using") or instance._state.db)
            .filter(pk=instance.pk)
            .values(*unknown)
            .first()
        )
        remembered.update(stored or {})


def _uncover(pairs: list[tuple[str, dt.date | None]], *, using: str) -> None:
    """The rolled-up days of the written rows are uncovered, and the metrics API's cached
    answers (metrics.answer_cache) dropped when the transaction commits: today's rows too,
    which no rollup holds but an answer may."""
    invalidate(pairs, using=using)
    if pairs:
        answer_cache.data_changed(using)


def _changed(old: Mapping[str, Any], new: Model, fields: Iterable[str]) -> bool:
    return any(old.get(field, _UNKNOWN) != new.__dict__.get(field) for field in fields)


def saved(
    sender: type[Model],
    instance: Model,
    created: bool = False,
    update_fields: Iterable[str] | None = None,
    raw: bool = False,
    using: str = "default",
    **kwargs: Any,
) -> None:
    """post_save: bump the days whose aggregates the save moved."""
    old = getattr(instance, LOADED, {})
    pairs: list[tuple[str, dt.date | None]] = []
    for watch in WATCHES.get(sender, ()):
        if created:
            pairs += watch.days(instance.__dict__)
        elif _changed(old, instance, watch.fields):
            pairs += watch.days(old, instance.__dict__)
    dependents = DEPENDENTS.get(sender)
    if dependents and not created and _changed(old, instance, dependents.fields):
        pairs += dependents.days(instance)
    _uncover(pairs, using=using)
    _remember(instance, update_fields)


def deleting(sender: type[Model], instance: Model, using: str = "default", **kwargs: Any) -> None:
    """pre_delete: rows whose aggregates follow this one (offers of an interaction lose it by
    SET_NULL before post_delete could find them)."""
    dependents = DEPENDENTS.get(sender)
    if dependents and dependents.on_delete:
        _uncover(dependents.days(instance), using=using)


def deleted(sender: type[Model], instance: Model, using: str = "default", **kwargs: Any) -> None:
    """post_delete: the row's day (as loaded and as it was last set) loses it."""
    old = getattr(instance, LOADED, {})
    pairs: list[tuple[str, dt.date | None]] = []
    for watch in WATCHES.get(sender, ()):
        pairs += watch.days(old, instance.__dict__)
    _uncover(pairs, using=using)


def operator_deleted(
    sender: type[Model], instance: Model, using: str = "default", **kwargs: Any
) -> None:
    """post_delete of a user: the facts' SET_NULL moved their rows to the group without an
    operator; the days whose rollup still has their group are uncovered (rolled again)."""
    groups = FactRollup.objects.using(using).filter(
        family=OuterRef("family"), day=OuterRef("day"), operator_id=instance.pk
    )
    FactRollupDay.objects.using(using).filter(Exists(groups)).update(version=F("version") + 1)
    answer_cache.data_changed(using)


def bulk_written(
    sender: type[Model], rows: list[Mapping[str, Any]], using: str = "default", **kwargs: Any
) -> None:
    """customers.signals.rows_written: the days of rows written without save()."""
    _uncover(
        [pair for watch in WATCHES.get(sender, ()) for row in rows for pair in watch.days(row)],
        using=using,
    )


def connect() -> None:
    """Connect the receivers (MetricsConfig.ready)."""
    for model in {*WATCHES, *DEPENDENTS}:
        uid = f"metrics.rollups.{model._meta.label_lower}"
        post_init.connect(loaded, sender=model, dispatch_uid=uid)
        pre_save.connect(before_save, sender=model, dispatch_uid=uid)
        post_save.connect(saved, sender=model, dispatch_uid=uid)
        pre_delete.connect(deleting, sender=model, dispatch_uid=uid)
        post_delete.connect(deleted, sender=model, dispatch_uid=uid)
    post_delete.connect(
        operator_deleted, sender=get_user_model(), dispatch_uid="metrics.rollups.user"
    )
    for model in WATCHES:
        uid = f"metrics.rollups.rows_written.{model._meta.label_lower}"
        rows_written.connect(bulk_written, sender=model, dispatch_uid=uid)
