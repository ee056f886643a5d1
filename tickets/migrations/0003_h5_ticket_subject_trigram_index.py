"""A trigram index on ticket subjects, so that the queue's search finds "батарея" inside
"Батарея разряжается" among millions of tickets without a scan. PostgreSQL only: SQLite scans.

The index is on UPPER(subject::text), the expression Django's `icontains` (and the tickets'
`uicontains`, which is `icontains` on PostgreSQL) compares, so the planner uses it. Customer
names are searched through customers' own index on UPPER(full_name).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX_NAME = "ticket_subject_trgm_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON tickets_ticket "
        "USING gin ((UPPER(subject::text)) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0002_ticket_sla_at_risk_moments"),
        ("customers", "0003_full_name_trigram_index"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
