"""The card's open tickets read in order from an index of open tickets only (issue 18).

A customer with hundreds of open tickets was planned (a custom plan: the statement's first
runs on a connection, and every run without prepared statements) from the average
customer's few: PostgreSQL combined two bitmaps, read every open ticket of the customer and
sorted them for the card's five. This index answers the list in order and its count from
the index alone. On PostgreSQL it is built with CREATE INDEX CONCURRENTLY, so tickets can be
written meanwhile.
"""

from __future__ import annotations

from django.db import migrations, models

from core.migration_ops import AddIndexConcurrentlyOnPostgreSQL


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0009_resolution_time"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("status__in", ["new", "open", "pending"])),
                fields=["customer", "-updated_at", "-id"],
                name="ticket_customer_open_idx",
            ),
        ),
    ]
