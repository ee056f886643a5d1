"""Celery tasks for surveys: thin, called with ids, idempotent."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from surveys import triggers


@shared_task(name="surveys.invite_after_ticket_resolved")
def invite_after_ticket_resolved(ticket_id: int) -> int | None:
    """Invite the customer of a resolved ticket; returns the invitation id, if any."""
    invitation = triggers.invite_after_ticket_resolved(ticket_id=ticket_id)
    return invitation.pk if invitation is not None else None


@shared_task(name="surveys.create_due_invitations")
def create_due_invitations(on: str | None = None) -> int:
    """The day's purchase, delayed and periodic invitations (`on`: ISO date, default today)."""
    from django.utils import timezone

    day = dt.date.fromisoformat(on) if on else timezone.localdate()
    return triggers.create_due_invitations(on=day)
