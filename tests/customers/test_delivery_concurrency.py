"""Two workers at once against real PostgreSQL: every reminder is created and sent once."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from core.outbox.engine import deliver
from customers.models import Channel, Purchase, Reminder
from customers.reminders import create_due_reminders
from tests.delivery_fixtures import RecordingBackend, moscow, recording_backend  # noqa: F401
from tests.factories import CustomerFactory, PhoneFactory, PurchaseFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("recording_backend"),
]

DAY = dt.date(2026, 3, 2)
NOON = moscow(2026, 3, 2, 12, 0)
WORKERS = 2
PURCHASES = 20


def run_in_parallel(work: Callable[[], object]) -> list[object]:
    """Run `work` in WORKERS threads, each with its own database connection, released together."""
    barrier = threading.Barrier(WORKERS)
    results: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def make_purchases() -> None:
    for _ in range(PURCHASES):
        customer = CustomerFactory.create(preferred_channel=Channel.SMS)
        PhoneFactory.create(customer=customer)
        purchase = PurchaseFactory.create(customer=customer)
        Purchase.objects.filter(pk=purchase.pk).update(warranty_ends_on=DAY + dt.timedelta(days=7))


def test_two_workers_creating_at_once_create_each_reminder_once() -> None:
    make_purchases()
    results = run_in_parallel(lambda: create_due_reminders(on=DAY).created)
    assert Reminder.objects.count() == PURCHASES
    assert sum(results) == PURCHASES  # type: ignore[arg-type]


def test_two_workers_sending_at_once_send_each_reminder_once() -> None:
    make_purchases()
    create_due_reminders(on=DAY)
    ids = list(Reminder.objects.order_by("id").values_list("id", flat=True))

    def send_all() -> list[str]:
        return [deliver("reminder", pk, now=NOON).status for pk in ids]

    results = run_in_parallel(send_all)
    sent_to = Counter(message.to for message in RecordingBackend.sent)
    assert len(sent_to) == PURCHASES and set(sent_to.values()) == {1}
    assert Counter(status for result in results for status in result) == {  # type: ignore[attr-defined]
        "sent": PURCHASES,
        "not_claimed": PURCHASES,
    }
    assert set(Reminder.objects.values_list("delivery_status", "attempts")) == {("sent", 1)}
