"""Celery tasks for surveys: thin, called with ids, idempotent."""

from __future__ import annotations

from celery import shared_task

from surveys import triggers


@shared_task(name="surveys.invite_after_ticket_resolved")
def invite_after_ticket_resolved(ticket_id: int) -> int | None:
    """Invite the customer of a resolved ticket; returns the invitation id, if any."""
    invitation = triggers.invite_after_ticket_resolved(ticket_id=ticket_id)
    return invitation.pk if invitation is not None else None
