"""Notify operators: one row per recipient and occurrence, then a live toast and an email.

Both leave after the commit; the email through a Celery task (live.tasks), so no request or
job waits on the mail server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation

from accounts.models import User
from core.queue import enqueue
from live import bus
from live.models import Notification
from live.tasks import email_notification_task


def notify(
    *,
    recipients: Iterable[User],
    key: str,
    kind: str,
    text: Callable[[], str],
    url: str = "",
) -> list[Notification]:
    """Notify each recipient of the occurrence `key` unless they already were; return the new.

    `text` is called in each recipient's language. Safe to call concurrently: the unique
    (recipient, key) constraint lets one caller create a row, the others find it.
    """
    created: list[Notification] = []
    for recipient in {r.pk: r for r in recipients if r.is_active}.values():
        with translation.override(recipient.language or settings.LANGUAGE_CODE):
            body = str(text())
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=recipient, key=key[:200], kind=kind, text=body[:300], url=url
                )
        except IntegrityError:
            continue  # already notified of this occurrence
        created.append(notification)
        transaction.on_commit(partial(_deliver, notification, recipient))
    return created


def _deliver(notification: Notification, recipient: User) -> None:
    bus.publish(
        "notification",
        {
            "id": notification.pk,
            "kind": notification.kind,
            "text": notification.text,
            "url": notification.url,
            "link_text": notification.text,
        },
        user_ids=[recipient.pk],
    )
    if recipient.email:
        enqueue(email_notification_task, notification_id=notification.pk)
