"""Writes of the telephony channel: a PBX event, the sweep, linking a caller, calling back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Team, User
from core.queue import enqueue
from customers.contacts import InvalidContact, normalise_phone
from customers.models import Customer
from customers.selectors import customers_by_phone
from customers.services import record_call_interaction
from telephony import signals
from telephony.models import Call, CallEvent, Direction
from telephony.tasks import click_to_call_task

if TYPE_CHECKING:
    from django.db.models import QuerySet

EVENT_ORDER = (CallEvent.Kind.NEW_CALL, CallEvent.Kind.ANSWER, CallEvent.Kind.HANGUP)


@dataclass(frozen=True)
class EventResult:
    call: Call
    duplicate: bool
    customer_ids: list[int] = field(default_factory=list)


def e164_or_given(number: str) -> str:
    """The E.164 form of a number, or the text as given (an extension, "anonymous")."""
    text = (number or "").strip()
    if not text:
        return ""
    try:
        return normalise_phone(text)
    except InvalidContact:
        return text


def matching_customer_ids(number: str) -> list[int]:
    """The customers whose phone this is (the caller-ID selector); none for a non-number."""
    try:
        return list(customers_by_phone(number).order_by("pk").values_list("pk", flat=True))
    except ValidationError:
        return []


def operators_named(names: Iterable[str]) -> list[User]:
    """Active staff named by username or phone extension, as user[] / answeringNumber do."""
    wanted = sorted({name.strip() for name in names if name and name.strip()})
    if not wanted:
        return []
    return list(
        User.objects.filter(
            Q(username__in=wanted) | Q(phone_extension__in=wanted), is_active=True
        ).order_by("pk")
    )


@transaction.atomic
def record_call_event(
    *,
    event: str,
    call_id: str,
    direction: str = "",
    from_number: str = "",
    to_number: str = "",
    users: Sequence[str] = (),
    answering_number: str = "",
    queue: str = "",
    cause: str = "",
    at: dt.datetime | None = None,
) -> EventResult:
    """Record one PBX event of a call (once) and bring the call record up to date.

    The record is derived from the set of the call's events, never from their arrival order,
    so a repeated, late or out-of-order event leaves it as if the events came in order. The
    call's row is locked first: the events read after it include every committed one, and an
    event already among them is a duplicate.
    """
    payload = {
        "direction": direction,
        "from": from_number,
        "to": to_number,
        "user": list(users),
        "answeringNumber": answering_number,
        "queue": queue,
        "cause": cause,
    }
    occurred_at = at or timezone.now()
    call, created = _locked_call(call_id, rang_at=occurred_at)
    events = {e.event: e for e in CallEvent.objects.filter(call_id=call_id)}
    if event in events:
        return EventResult(call=call, duplicate=True)
    events[event] = CallEvent.objects.create(
        call_id=call_id, event=event, occurred_at=occurred_at, payload=payload
    )
    customer_ids, rung = _derive(call, events, created=created, changed=event)
    pk = call.pk
    if event == CallEvent.Kind.NEW_CALL:
        operator_ids = [user.pk for user in rung or []]
        phone = call.remote_number
        transaction.on_commit(
            lambda: signals.call_ringing.send(
                sender=Call,
                call_id=pk,
                operator_ids=operator_ids,
                phone=phone,
                customer_ids=customer_ids,
            )
        )
    else:
        state = "answered" if event == CallEvent.Kind.ANSWER else "ended"
        transaction.on_commit(
            lambda: signals.call_updated.send(sender=Call, call_id=pk, state=state)
        )
    return EventResult(call=call, duplicate=False, customer_ids=customer_ids)


def _locked_call(call_id: str, *, rang_at: dt.datetime) -> tuple[Call, bool]:
    """The call's row, locked (created on its first event), with its team for the derivation."""
    return (
        Call.objects.select_for_update(of=("self",))
        .select_related("team")
        .get_or_create(
            call_id=call_id, defaults={"rang_at": rang_at, "direction": Direction.INBOUND}
        )
    )


def _first(events: dict[str, CallEvent], key: str) -> Any:
    """The value of `key` in the first event (in the call's own order) that has one."""
    for kind in EVENT_ORDER:
        if kind in events and events[kind].payload.get(key):
            return events[kind].payload[key]
    return ""


def _named(event: CallEvent | None) -> list[str]:
    if event is None:
        return []
    return [*event.payload.get("user", []), event.payload.get("answeringNumber", "")]


def _among(users: list[User], names: list[str]) -> list[User]:
    """The users (in id order) that `names` name by username or phone extension."""
    wanted = {name.strip() for name in names if name and name.strip()}
    return [user for user in users if user.username in wanted or user.phone_extension in wanted]


@transaction.atomic
def rebuild_call(*, call_id: str) -> tuple[Call, list[int]]:
    """Derive the call record and its timeline entry again from every stored event of the call."""
    call, created = _locked_call(call_id, rang_at=timezone.now())
    events = {e.event: e for e in CallEvent.objects.filter(call_id=call_id)}
    if not events:
        raise Call.DoesNotExist(call_id)
    customer_ids, _rung = _derive(call, events, created=created, changed=None)
    return call, customer_ids


def _derive(
    call: Call, events: dict[str, CallEvent], *, created: bool, changed: str | None
) -> tuple[list[int], list[User] | None]:
    """Bring the locked `call` and its timeline entry up to date with `events`.

    `changed` is the event just added (None: derive everything again). What that event cannot
    have changed is not read again: the rung operators follow the newCall event and the queue,
    the queue's team the queue, the matching customers the number. Returns the customers with
    the call's number and the operators it rings for (None when they did not change).
    """
    everything = created or changed is None
    rang_before, remote_before, queue_before = call.rang_at, call.remote_number, call.queue
    answered_before = call.answered_at
    timeline_before = None if created else _timeline_fields(call)
    rang_at = min(e.occurred_at for e in events.values())
    direction = _first(events, "direction")
    call.direction = direction if direction in Direction.values else Direction.INBOUND
    call.caller = e164_or_given(_first(events, "from"))
    call.called = e164_or_given(_first(events, "to"))
    call.queue = _first(events, "queue")
    call.rang_at = rang_at
    queue_changed = everything or call.queue != queue_before

    new_call = events.get(CallEvent.Kind.NEW_CALL)
    answer = events.get(CallEvent.Kind.ANSWER)
    hangup = events.get(CallEvent.Kind.HANGUP)
    call.answered_at = max(answer.occurred_at, rang_at) if answer else None
    last_known = call.answered_at or rang_at
    if hangup:
        call.ended_at = max(hangup.occurred_at, last_known)
        call.cause = hangup.payload.get("cause", "")
    elif call.swept_at is not None:
        call.ended_at = last_known
        call.cause = ""
    else:
        call.ended_at = None
        call.cause = ""

    # Who answered: named by the answer (or, failing that, the hangup); once found it stays.
    find_answerer = answer is not None and (
        everything or changed == CallEvent.Kind.ANSWER or call.answered_by_id is None
    )
    find_rung = everything or changed == CallEvent.Kind.NEW_CALL or queue_changed
    names = [
        *(_named(answer) + _named(hangup) if find_answerer else []),
        *(_named(new_call) if find_rung else []),
    ]
    named = operators_named(names)
    if find_answerer:
        answered_by = _among(named, _named(answer)) or _among(named, _named(hangup))
        call.answered_by = answered_by[0] if answered_by else None
    elif answer is None:
        call.answered_by = None

    if queue_changed:
        queue_team = Team.objects.filter(name__iexact=call.queue).first() if call.queue else None
    else:  # the same queue: its team, if it had one, is the call's
        queue_team = (
            call.team if call.team and call.queue and call.team.name.lower() == call.queue.lower()
            else None
        )  # fmt: skip
    rung: list[User] | None = None
    if find_rung:
        rung = _among(named, _named(new_call))
        if not rung and queue_team is not None:
            rung = list(queue_team.members.filter(is_active=True).order_by("pk"))
        people = [*rung, *([call.answered_by] if call.answered_by else [])]
        call.team = queue_team or next((user.team for user in people if user.team_id), None)
    elif queue_team is None and call.team_id is None and call.answered_by is not None:
        call.team_id = call.answered_by.team_id

    customer_ids: list[int]
    if everything or call.customer_id is None or call.remote_number != remote_before:
        customer_ids = matching_customer_ids(call.remote_number)
        if call.customer_id is None and len(customer_ids) == 1:
            call.customer_id = customer_ids[0]
    else:
        customer_ids = [call.customer_id] if call.customer_id else []
    if changed is None or call.ended_at is not None or call.answered_at != answered_before:
        _close_missed_calls(call)
    if everything or call.interaction_id is None or _timeline_fields(call) != timeline_before:
        _sync_interaction(call, previous_started_at=rang_before, save=False)
    call.save()
    if rung is not None:
        _set_operators(call, rung, created=created)
    return customer_ids, rung


def _timeline_fields(call: Call) -> tuple[Any, ...]:
    """What the call's timeline entry shows of it: unchanged, the entry is not written."""
    return (
        call.customer_id,
        call.direction,
        call.rang_at,
        call.answered_at,
        call.ended_at,
        call.answered_by_id,
        call.remote_number,
    )


def _set_operators(call: Call, rung: list[User], *, created: bool) -> None:
    """The operators the call rang for: inserted at once for a new call, else replaced if
    different."""
    through = Call.operators.through
    if created:
        through.objects.bulk_create(
            [through(call_id=call.pk, user_id=user.pk) for user in rung], ignore_conflicts=True
        )
    elif {user.pk for user in rung} != set(call.operators.values_list("pk", flat=True)):
        call.operators.set(rung)


def _close_missed_calls(call: Call) -> None:
    """An answered outbound call closes the earlier missed calls from that number; a missed
    call already followed by such a call back is closed at once."""
    if not call.remote_number:
        return
    if call.direction == Direction.OUTBOUND and call.answered_at is not None:
        if call.pk is not None:
            Call.objects.filter(
                direction=Direction.INBOUND,
                caller=call.called,
                answered_at__isnull=True,
                rang_at__lt=call.answered_at,
                called_back_by__isnull=True,
            ).exclude(pk=call.pk).update(called_back_by=call)
    elif call.direction == Direction.INBOUND and call.answered_at is None:
        call.called_back_by = (
            Call.objects.filter(
                direction=Direction.OUTBOUND,
                called=call.caller,
                answered_at__gt=call.rang_at,
            )
            .order_by("answered_at")
            .first()
        )
    else:
        call.called_back_by = None


def _sync_interaction(
    call: Call,
    *,
    previous_started_at: dt.datetime | None = None,
    save: bool = True,
) -> None:
    """The call's timeline entry: updated in place (one statement) once it exists; the call
    keeps its id (saved here unless the caller saves the call next)."""
    interaction_id = record_call_interaction(
        call_id=call.call_id,
        customer_id=call.customer_id,
        direction="inbound" if call.direction == Direction.INBOUND else "outbound",
        started_at=call.rang_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        operator_id=call.answered_by_id,
        contact_address=call.remote_number,
        interaction_id=call.interaction_id,
        previous_started_at=previous_started_at,
    )
    if call.interaction_id != interaction_id:
        call.interaction_id = interaction_id
        if save:
            call.save(update_fields=["interaction"])


def stale_calls(*, now: dt.datetime) -> QuerySet[Call]:
    """Calls still open TELEPHONY_STALE_CALL_MINUTES after they rang."""
    cutoff = now - dt.timedelta(minutes=settings.TELEPHONY_STALE_CALL_MINUTES)
    return Call.objects.filter(ended_at__isnull=True, rang_at__lt=cutoff)


def sweep_stale_calls(*, now: dt.datetime | None = None) -> int:
    """Close the calls whose hangup never came (at the last moment known of them)."""
    moment = now or timezone.now()
    closed = 0
    for call_id in stale_calls(now=moment).values_list("call_id", flat=True):
        with transaction.atomic():
            updated = stale_calls(now=moment).filter(call_id=call_id).update(swept_at=moment)
            if updated:
                rebuild_call(call_id=call_id)
                closed += 1
    return closed


@transaction.atomic
def link_call_to_customer(*, call: Call, customer: Customer, actor: User) -> Call:
    """An operator says who called from an unknown number: the call and its timeline entry
    now belong to `customer` (the interaction's operator stays the one who answered)."""
    call = Call.objects.select_for_update().get(pk=call.pk)
    call.customer = customer
    call.save(update_fields=["customer"])
    _sync_interaction(call)
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[call],
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["customer"]}}],
        single_object=True,
    )
    return call


def request_call_back(*, call: Call, actor: User) -> bool:
    """Ask the PBX to ring the operator's extension, then the customer (click-to-call).

    Returns False when no click-to-call URL is configured or the operator has no extension.
    """
    if not settings.TELEPHONY_CLICK_TO_CALL_URL:
        return False
    if not actor.phone_extension:
        raise ValidationError(_("Set your phone extension in your profile to call back."))
    if not call.remote_number:
        raise ValidationError(_("This call has no number to call back."))
    return enqueue(click_to_call_task, call_id=call.pk, operator_id=actor.pk)
