"""What the operators' open pages and inboxes learn about tickets: the one hook the services call.

Each function runs inside the service's transaction and publishes after it commits (a rolled
back change reaches nobody). `escalate_sla()` is the escalation job's body.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import SUPERVISORS
from live import bus
from live.notifications import notify
from tickets.models import ACTIVE_STATUSES, Ticket, TicketMessage

# Crossings older than this are not announced (a first run does not flood old breaches).
ESCALATION_LOOKBACK = dt.timedelta(hours=24)


def _publish_after_commit(event: str, data: dict[str, object], *, topic: str) -> None:
    transaction.on_commit(lambda: bus.publish(event, data, topic=topic))


def ticket_changed(*, ticket: Ticket, change: str) -> None:
    """The ticket was opened or its status, assignee, priority or SLA changed."""
    _publish_after_commit(
        "ticket_changed",
        {"ticket_id": ticket.pk, "change": change, "status": ticket.status},
        topic=f"ticket:{ticket.pk}",
    )


def ticket_assigned(
    *, ticket: Ticket, assignee: User | None, actor: User | None, event_id: int
) -> None:
    ticket_changed(ticket=ticket, change="assignee")
    if assignee is None or (actor is not None and actor.pk == assignee.pk):
        return
    notify(
        recipients=[assignee],
        key=f"assigned:{ticket.pk}:{event_id}",
        kind="assigned",
        text=lambda: (
            _("Ticket #%(id)s “%(subject)s” was assigned to you.")
            % {"id": ticket.pk, "subject": ticket.subject}
        ),
        url=reverse("tickets:detail", args=[ticket.pk]),
    )


def message_added(*, message: TicketMessage) -> None:
    ticket = message.ticket
    _publish_after_commit(
        "ticket_message",
        {
            "ticket_id": ticket.pk,
            "message_id": message.pk,
            "author_kind": message.author_kind,
            "author_user_id": message.author_user_id,
            "is_internal": message.is_internal,
        },
        topic=f"ticket:{ticket.pk}",
    )
    if message.author_kind == TicketMessage.Author.CUSTOMER and ticket.assignee is not None:
        notify(
            recipients=[ticket.assignee],
            key=f"customer_reply:{message.pk}",
            kind="customer_reply",
            text=lambda: (
                _("The customer replied on ticket #%(id)s “%(subject)s”.")
                % {"id": ticket.pk, "subject": ticket.subject}
            ),
            url=reverse("tickets:detail", args=[ticket.pk]),
        )


def _team_leads(team_id: int | None) -> list[User]:
    if team_id is None:
        return []
    return list(User.objects.filter(team_id=team_id, is_active=True, groups__name=SUPERVISORS))


_CLOCKS = (
    # clock, crossing, moment field, the clock is still running while
    ("first_response", "at_risk", "first_response_at_risk_at", Q(first_response_at__isnull=True)),
    ("first_response", "breached", "first_response_due_at", Q(first_response_at__isnull=True)),
    ("resolution", "at_risk", "resolution_at_risk_at", Q(resolved_at__isnull=True)),
    ("resolution", "breached", "resolution_due_at", Q(resolved_at__isnull=True)),
)


def escalate_sla(*, now: dt.datetime | None = None) -> int:
    """Notify the assignee and the team's leads of each SLA clock that crossed its at-risk or due
    moment (within ESCALATION_LOOKBACK); each crossing once per person. Returns how many were sent.
    """
    now = now or timezone.now()
    sent = 0
    for clock, crossing, field, running in _CLOCKS:
        tickets = (
            Ticket.objects.filter(running, status__in=ACTIVE_STATUSES)
            .filter(**{f"{field}__lte": now, f"{field}__gt": now - ESCALATION_LOOKBACK})
            .select_related("assignee")
            .order_by("pk")
        )
        for ticket in tickets:
            moment: dt.datetime = getattr(ticket, field)
            recipients = [
                *([ticket.assignee] if ticket.assignee else []),
                *_team_leads(ticket.team_id),
            ]

            def text(ticket: Ticket = ticket, clock: str = clock, crossing: str = crossing) -> str:
                name = _("first response") if clock == "first_response" else _("resolution")
                template = (
                    _("SLA at risk: %(clock)s of ticket #%(id)s “%(subject)s”.")
                    if crossing == "at_risk"
                    else _("SLA breached: %(clock)s of ticket #%(id)s “%(subject)s”.")
                )
                return template % {"clock": name, "id": ticket.pk, "subject": ticket.subject}

            with transaction.atomic():
                created = notify(
                    recipients=recipients,
                    key=f"sla:{ticket.pk}:{clock}:{crossing}:{moment.isoformat()}",
                    kind=f"sla_{crossing}",
                    text=text,
                    url=reverse("tickets:detail", args=[ticket.pk]),
                )
                if created:
                    ticket_changed(ticket=ticket, change="sla")
            sent += len(created)
    return sent
