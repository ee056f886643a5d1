"""Template helpers for SLA clocks: "2 h 05 min left", "15 min over", their badge class, and
the SLA cell of a ticket row."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import template
from django.template.defaultfilters import truncatechars
from django.urls import NoReverseMatch
from django.utils import translation
from django.utils.safestring import SafeString
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from core.cached_date import cached_date
from core.cached_url import cached_reverse
from core.choices import field_labels
from core.markup import markup
from tickets.models import Priority, Ticket
from tickets.sla import SLAClock, SLAState, TicketSLA

if TYPE_CHECKING:
    from tickets.selectors import TicketRow

register = template.Library()

SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60
HOURS_PER_DAY = 24

BADGE_CLASS = {
    SLAState.ON_TIME: "ok",
    SLAState.MET: "ok",
    SLAState.AT_RISK: "warn",
    SLAState.BREACHED: "bad",
    SLAState.NONE: "",
}


def _span(delta: dt.timedelta) -> str:
    minutes = int(abs(delta).total_seconds()) // SECONDS_PER_MINUTE
    hours, minutes = divmod(minutes, MINUTES_PER_HOUR)
    days, hours = divmod(hours, HOURS_PER_DAY)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


@register.filter
def sla_remaining(clock: SLAClock | None) -> str:
    """Time left, or time over, on one clock."""
    if clock is None:
        return "—"
    if clock.remaining < dt.timedelta(0) or clock.state == SLAState.BREACHED:
        return _("%(span)s over") % {"span": _span(clock.remaining)}
    if clock.state == SLAState.MET:
        return _("met, %(span)s to spare") % {"span": _span(clock.remaining)}
    return _("%(span)s left") % {"span": _span(clock.remaining)}


@register.filter
def sla_badge(state: SLAState | str) -> str:
    """The CSS badge class of an SLA state."""
    return BADGE_CLASS.get(SLAState(state), "")


@register.filter
def sla_label(state: SLAState | str) -> str:
    labels = {
        SLAState.NONE: _("No SLA"),
        SLAState.ON_TIME: _("On time"),
        SLAState.AT_RISK: _("At risk"),
        SLAState.BREACHED: _("Breached"),
        SLAState.MET: _("Met"),
    }
    return labels[SLAState(state)]


RUNNING = (SLAState.ON_TIME, SLAState.AT_RISK, SLAState.BREACHED)
# Priorities a row flags beside its status.
FLAGGED = (Priority.HIGH, Priority.URGENT)
# Characters of the last message a row shows.
LAST_MESSAGE_SHOWN = 110


@dataclass(frozen=True)
class _Words:
    """What a ticket row says, in one language: translated once per language and process
    (a lazy label costs a gettext lookup each time it is printed, four to six per row)."""

    badges: dict[str, str]
    no_sla: str
    reply_by: str
    resolve_by: str
    authors: dict[str, str]
    system: str


@functools.lru_cache(maxsize=16)
def _words_in(language: str | None) -> _Words:
    with translation.override(language):
        return _Words(
            badges={
                SLAState.BREACHED: _("SLA breached"),
                SLAState.AT_RISK: _("SLA at risk"),
                SLAState.ON_TIME: _("on time"),
                SLAState.MET: _("SLA met"),
            },
            no_sla=_("no SLA"),
            reply_by=_("reply by"),
            resolve_by=_("resolve by"),
            authors={"operator": _("Operator"), "customer": _("Customer")},
            system=_("System"),
        )


def _words() -> _Words:
    return _words_in(translation.get_language())


@register.simple_tag
def sla_cell(sla: TicketSLA, ticket: Any) -> SafeString:
    """A ticket row's SLA cell: the badge of its worst clock and, while a clock runs, when the
    next reply or the resolution is due."""
    return _sla_cell(sla, ticket, _words())


def _sla_cell(sla: TicketSLA, ticket: Any, words: _Words) -> SafeString:
    state = sla.state
    if state == SLAState.NONE:
        return markup('<span class="muted small">{}</span>', words.no_sla)
    cell = markup('<span class="badge {}">{}</span>', BADGE_CLASS[state], words.badges[state])
    if state not in RUNNING:
        return cell
    first = sla.first_response
    if first and first.state not in (SLAState.MET, SLAState.NONE) and not ticket.first_response_at:
        due = (words.reply_by, first.due_at)
    elif sla.resolution and not ticket.resolved_at:
        due = (words.resolve_by, sla.resolution.due_at)
    else:
        return cell
    when = cached_date(localtime(due[1]), "SHORT_DATETIME_FORMAT")
    return markup('{}<div class="small muted">{} {}</div>', cell, due[0], when)


@register.simple_tag
def ticket_row(row: TicketRow) -> SafeString:
    """A ticket's row on the card and in the customer's ticket list: number, subject, last
    public message, status and priority, SLA cell. Written here rather than in a template
    included per row: a row took 130 µs through the template engine (variable lookups,
    filters, lazy translations), and the card lists up to ten tickets (issue 18)."""
    language = translation.get_language()
    words = _words_in(language)
    ticket = row.ticket
    try:
        url = cached_reverse("tickets:detail", (ticket.pk,))
    except NoReverseMatch:
        url = ""
    number = markup('<a href="{}">#{}</a>', url, ticket.pk) if url else f"#{ticket.pk}"
    last = ""
    if row.last_message:
        at = row.last_message_at
        last = markup(
            '<div class="small muted last-message">{}, {}: {}</div>',
            words.authors.get(row.last_message_author or "", words.system),
            cached_date(localtime(at), "SHORT_DATETIME_FORMAT") if at else "",
            truncatechars(row.last_message, LAST_MESSAGE_SHOWN),
        )
    flag = ""
    if ticket.priority in FLAGGED:
        priority = field_labels(Ticket, "priority", language).get(ticket.priority, ticket.priority)
        flag = markup(' <span class="badge bad">{}</span>', priority)
    return markup(
        '<tr class="ticket-row">\n  <td class="nowrap">{}</td>\n'
        "  <td><strong>{}</strong>{}</td>\n"
        '  <td class="nowrap"><span class="badge">{}</span>{}</td>\n'
        '  <td class="nowrap">{}</td>\n</tr>',
        number,
        ticket.subject,
        last,
        field_labels(Ticket, "status", language).get(ticket.status, ticket.status),
        flag,
        _sla_cell(row.sla, ticket, words),
    )
