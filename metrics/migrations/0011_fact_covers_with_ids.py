"""The metrics' covering indexes on tickets and inbound contacts, made to cover what the metrics
read (issue 18).

The grouped metrics count rows as `COUNT(id)` and the inbound contacts are filtered to those
measured by their channel's own system (`external_id <> ''`, metrics/definitions/contacts.py),
but 0003's covers held neither column: every row of the days the rollups do not cover yet
(today, yesterday) was fetched from the table, and no index could answer the median
resolution's scan. With them those reads can be index-only scans: on 200,000 generated
customers the inbound contacts of two days took 15 ms instead of 64, the tickets created and
resolved 14 and 15 ms instead of 25 and 21. (The year's median still reads the table where
its tickets are most of it: the planner's choice.)

PostgreSQL only (SQLite keeps 0003's plain composite indexes). Each index is built under a
temporary name with CREATE INDEX CONCURRENTLY, so writes to the tickets and contacts go on
while it builds, then takes the old one's name; reversing builds the old definition back.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

# (name, table, the definition before, the definition now)
COVERS = [
    (
        "metrics_ticket_created_cover",
        "tickets_ticket",
        "(created_at) INCLUDE (first_response_at, resolved_at, channel, assignee_id, personalized)",
        "(created_at) INCLUDE (first_response_at, resolved_at, channel, assignee_id, personalized, "
        "id)",
    ),
    (
        "metrics_ticket_resolved_cover",
        "tickets_ticket",
        "(resolved_at) INCLUDE (created_at, customer_contacts, channel, assignee_id, personalized) "
        "WHERE resolved_at IS NOT NULL",
        "(resolved_at) INCLUDE (created_at, customer_contacts, channel, assignee_id, personalized, "
        "id) WHERE resolved_at IS NOT NULL",
    ),
    (
        "metrics_interaction_inbound_time",
        "customers_interaction",
        "(started_at) INCLUDE (channel, answered_at, ended_at, operator_id, personalized) "
        "WHERE direction = 'inbound' AND kind = 'contact'",
        "(started_at) INCLUDE (channel, answered_at, ended_at, operator_id, personalized, "
        "external_id, id) WHERE direction = 'inbound' AND kind = 'contact'",
    ),
]


def _rebuild(schema_editor: Any, *, forwards: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, before, now in COVERS:
        definition = now if forwards else before
        building = f"{name}_new"
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {building}")
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY {building} ON {table} {definition}")
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        schema_editor.execute(f"ALTER INDEX {building} RENAME TO {name}")


def forwards(apps: Any, schema_editor: Any) -> None:
    _rebuild(schema_editor, forwards=True)


def backwards(apps: Any, schema_editor: Any) -> None:
    _rebuild(schema_editor, forwards=False)


class Migration(migrations.Migration):
    # CREATE / DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("metrics", "0010_subscription_max_to_date"),
        ("tickets", "0008_card_fresh_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
