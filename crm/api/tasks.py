"""Housekeeping of the API's own records."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from crm.api.idempotency import prune_expired_keys


@shared_task(name="crm.api.prune_idempotency_keys")
def prune_idempotency_keys() -> int:
    """Delete the Idempotency-Key records whose replay window has passed."""
    return prune_expired_keys(now=timezone.now())
