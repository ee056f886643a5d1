"""A trigram index on customer names, so that the search box finds "ivan" inside "Ivanova"
among a million customers without a scan. PostgreSQL only: on SQLite this does nothing.

The index is on UPPER(full_name::text), the expression Django's `icontains` compares on
PostgreSQL, so the planner uses it for `full_name__icontains`.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX_NAME = "customer_full_name_trgm_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON customers_customer "
        "USING gin ((UPPER(full_name::text)) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_reminder_delivery_claim_and_category_lead_days"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
