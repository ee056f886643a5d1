"""The resolved tickets in order of their resolution time (issue 18).

The median resolution time finds which bucket of resolution times holds its middle ticket
from `metrics.ResolutionTimeRollup`, then reads only the tickets of that bucket, in order,
through this index (metrics/resolution_histogram.py). The expression is the one the metrics
compute (`core.expressions.SecondsBetween`), so PostgreSQL matches it in their queries. On
PostgreSQL it is built with CREATE INDEX CONCURRENTLY, so tickets can be written meanwhile.
"""

from __future__ import annotations

from django.db import migrations, models

import core.expressions
from core.migration_ops import AddIndexConcurrentlyOnPostgreSQL


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0008_card_fresh_index"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="ticket",
            index=models.Index(
                core.expressions.SecondsBetween(models.F("created_at"), models.F("resolved_at")),
                condition=models.Q(("resolved_at__isnull", False)),
                include=["created_at", "resolved_at", "personalized"],
                name="ticket_resolution_time_idx",
            ),
        ),
    ]
