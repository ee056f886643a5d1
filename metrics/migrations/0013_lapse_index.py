"""The subscribers' purchase days carry the day before the previous one (issue 18).

Who lapsed in a period (`metrics.purchase_days.corrections`) asks, for a customer's last day
before the period's end, whether they had a day in the window before its start; the
previous day tells, and now the one before it too, so an index probe is left to customers
with three days in the period (76,421 probes became 32,570 for a year at a million
customers). The cover replaces `purchase_day_subscriber_idx` with that column included;
both built and dropped CONCURRENTLY on PostgreSQL.
"""

from __future__ import annotations

from django.db import migrations, models

from core.migration_ops import (
    AddIndexConcurrentlyOnPostgreSQL,
    RemoveIndexConcurrentlyOnPostgreSQL,
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("metrics", "0012_resolution_time"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="purchaseday",
            index=models.Index(
                condition=models.Q(("subscription_max_to_date__isnull", False)),
                fields=["day"],
                include=(
                    "customer",
                    "previous_day",
                    "second_previous_day",
                    "next_day",
                    "subscription_max_to_date",
                ),
                name="purchase_day_lapse_idx",
            ),
        ),
        RemoveIndexConcurrentlyOnPostgreSQL(
            model_name="purchaseday",
            name="purchase_day_subscriber_idx",
        ),
    ]
