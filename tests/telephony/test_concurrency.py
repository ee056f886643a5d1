"""Two events of one call committed at the same time (PostgreSQL: real row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from telephony.models import Call
from telephony.services import record_call_event

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _blocked_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return int(cursor.fetchone()[0])


def test_an_event_waiting_for_the_first_events_commit_sees_it() -> None:
    """newCall's transaction is still open when the answer arrives; the answer waits for it
    and the record it writes last still holds the caller newCall gave."""
    first_written = threading.Event()
    may_commit = threading.Event()
    errors: list[BaseException] = []

    def new_call() -> None:
        try:
            with transaction.atomic():
                record_call_event(
                    event="newCall", call_id="race", direction="in", from_number="+79001112233"
                )
                first_written.set()
                assert may_commit.wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)
            first_written.set()
        finally:
            connections.close_all()

    def answer() -> None:
        try:
            record_call_event(event="answer", call_id="race")
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)
        finally:
            connections.close_all()

    ringing = threading.Thread(target=new_call)
    ringing.start()
    assert first_written.wait(timeout=30)
    answering = threading.Thread(target=answer)
    answering.start()
    for _ in range(3000):  # until the answer waits for newCall's locks (or 30 s)
        if _blocked_backends():
            break
        answering.join(timeout=0.01)
    may_commit.set()
    ringing.join(timeout=30)
    answering.join(timeout=30)

    assert errors == []
    call = Call.objects.get(call_id="race")
    assert (call.caller, call.direction) == ("+79001112233", "in")
    assert call.answered_at is not None
    assert call.interaction is not None and call.interaction.contact_address == "+79001112233"
