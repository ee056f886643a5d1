"""Indexes for the metrics' period filters, on the tables of other apps.

They are created with SQL rather than in those models' Meta because they serve only the
metrics: on PostgreSQL covering indexes (INCLUDE) let a year's aggregates run as index-only
scans; SQLite gets the plain composite equivalents. Dropped again on reverse.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

# (name, table, PostgreSQL definition, SQLite definition)
INDEXES = [
    (
        "metrics_response_time_cover",
        "surveys_surveyresponse",
        "(answered_at) INCLUDE (invitation_id, score, sentiment)",
        "(answered_at, invitation_id, score)",
    ),
    (
        "metrics_purchase_completed_time",
        "customers_purchase",
        "(purchased_at) INCLUDE (customer_id, amount, subscription_ends_on, product_id) "
        "WHERE status = 'completed'",
        "(purchased_at, customer_id) WHERE status = 'completed'",
    ),
    (
        "metrics_purchase_customer_completed",
        "customers_purchase",
        "(customer_id, purchased_at) WHERE status = 'completed'",
        "(customer_id, purchased_at) WHERE status = 'completed'",
    ),
    (
        "metrics_ticket_created_cover",
        "tickets_ticket",
        "(created_at) INCLUDE (first_response_at, resolved_at, channel, assignee_id, personalized)",
        "(created_at, channel)",
    ),
    (
        "metrics_ticket_resolved_cover",
        "tickets_ticket",
        "(resolved_at) INCLUDE (created_at, customer_contacts, channel, assignee_id, personalized) "
        "WHERE resolved_at IS NOT NULL",
        "(resolved_at, channel) WHERE resolved_at IS NOT NULL",
    ),
    (
        "metrics_interaction_inbound_time",
        "customers_interaction",
        "(started_at) INCLUDE (channel, answered_at, ended_at, operator_id, personalized) "
        "WHERE direction = 'inbound' AND kind = 'contact'",
        "(started_at, channel) WHERE direction = 'inbound' AND kind = 'contact'",
    ),
]


def create(apps: Any, schema_editor: Any) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, table, pg_definition, sqlite_definition in INDEXES:
        definition = pg_definition if postgres else sqlite_definition
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")


def drop(apps: Any, schema_editor: Any) -> None:
    for name, *_rest in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0002_clv_model_fit"),
        ("customers", "0001_initial"),
        ("surveys", "0001_initial"),
        ("tickets", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
