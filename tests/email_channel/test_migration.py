"""The move of ticket replies onto the outbox keeps every mail's delivery state."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from email_channel.models import EmailMessage


# transaction=True like the other tests of this directory (the migration executor needs it);
# serialized_rollback, as every transactional test here: the data the migrations wrote (roles,
# content types) is back for the tests after it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_old_delivery_states_map_onto_the_outbox_fields() -> None:
    before = [("email_channel", "0001_initial")]
    after = [("email_channel", "0002_ticket_reply_outbox")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    mailbox = old_apps.get_model("email_channel", "Mailbox").objects.create(
        name="support", address="support@example.com"
    )
    Old = old_apps.get_model("email_channel", "EmailMessage")
    sent_at = timezone.now() - dt.timedelta(hours=2)
    rows: dict[str, dict[str, Any]] = {
        "in": {"direction": "in", "status": "received"},
        "queued": {
            "direction": "out",
            "status": "queued",
            "attempts": 2,
            "failure_reason": "451 later",
        },
        "sent": {"direction": "out", "status": "sent", "attempts": 1, "sent_at": sent_at},
        "failed": {
            "direction": "out",
            "status": "failed",
            "attempts": 1,
            "failure_reason": "550 no user",
        },
        "bounced": {
            "direction": "out",
            "status": "bounced",
            "attempts": 1,
            "sent_at": sent_at,
            "failure_reason": "DSN",
        },
    }
    for name, fields in rows.items():
        Old.objects.create(mailbox=mailbox, message_id=f"{name}@example.com", **fields)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    got = {
        e.message_id.split("@")[0]: (e.delivery_status, e.attempts, e.last_error, e.delivery_badge)
        for e in EmailMessage.objects.all()
    }
    assert got == {
        "in": ("skipped", 0, "", "queued"),
        "queued": ("pending", 2, "451 later", "queued"),
        "sent": ("sent", 1, "", "sent"),
        "failed": ("failed", 1, "550 no user", "failed"),
        "bounced": ("sent", 1, "DSN", "bounced"),
    }
    bounced = EmailMessage.objects.get(message_id="bounced@example.com")
    assert bounced.sent_at == sent_at and bounced.bounced_at == sent_at
    keys = set(EmailMessage.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 5 and None not in keys
