"""The kinds of message the outbox sends: each app registers its own, once, in `ready()`.

A kind tells the outbox which model holds its messages and three things about one message:
whether and where it may go now (`prepare`), how to hand it to the provider (`send`) and what
to record once it went (`on_sent`); optionally where to turn after the last failed attempt
(`fallback`), which rows are not due yet whatever their next attempt time (`due`), and work
the sweep does first (`before_sweep`, e.g. creating rows whose creation was lost).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from core.outbox.models import DeliveryStatus, OutboxMessage


@dataclass(frozen=True)
class Send:
    """Send now. `fields` are saved on the row as the attempt starts (the channel chosen);
    `payload` is handed to `send` and `on_sent` (the route, the rendered message)."""

    payload: Any = None
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Hold:
    """Never send: close the message as `status` (skipped, cancelled, failed) with a reason."""

    status: str
    reason: str


@dataclass(frozen=True)
class Defer:
    """Not now: back to pending until `until` (quiet hours, a future day); not an attempt."""

    until: dt.datetime


Decision = Send | Hold | Defer
Prepare = Callable[[Any, dt.datetime], Decision]
SendFunction = Callable[[Any, Any, dt.datetime], Mapping[str, object] | None]
OnSent = Callable[[Any, Any, dt.datetime], None]
Fallback = Callable[[Any, dt.datetime], Mapping[str, object] | None]
DueFilter = Callable[[QuerySet[Any], dt.datetime], QuerySet[Any]]


def _send_now(row: Any, now: dt.datetime) -> Decision:
    return Send()


def _nothing(row: Any, payload: Any, now: dt.datetime) -> None:
    return None


def _no_fallback(row: Any, now: dt.datetime) -> Mapping[str, object] | None:
    return None


def _all_due(rows: QuerySet[Any], now: dt.datetime) -> QuerySet[Any]:
    return rows


@dataclass(frozen=True)
class OutboxKind:
    """One kind of outbound message. See the module docstring for what each callable does.

    `send(row, payload, now)` returns fields to save with the success (or None) and raises
    TemporaryDeliveryError / PermanentDeliveryError; anything else counts as temporary.
    `fallback(row, now)` returns the fields that put the message on another route, with its
    attempts starting over, or None to fail it for good.
    """

    name: str
    model: type[OutboxMessage]
    send: SendFunction
    prepare: Prepare = _send_now
    on_sent: OnSent = _nothing
    fallback: Fallback = _no_fallback
    due: DueFilter = _all_due
    select_related: tuple[str, ...] = ()
    before_sweep: Callable[[dt.datetime], int] | None = None

    def rows(self) -> QuerySet[Any]:
        return self.model._default_manager.all()

    def pending(self) -> QuerySet[Any]:
        return self.rows().filter(delivery_status=DeliveryStatus.PENDING)


KINDS: dict[str, OutboxKind] = {}


class UnknownKind(KeyError):
    """No outbox kind has this name."""


def register(kind: OutboxKind) -> OutboxKind:
    """Add a kind; registering the same name again replaces it (tests, autoreload)."""
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> OutboxKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(name) from None
