"""Reminders join the outbox (core/outbox): `status` becomes `delivery_status`, the name every
outbound message uses; a claim token, a stable idempotency key and the channels given up on."""

import uuid

from django.db import migrations, models

STATUS_CHOICES = [
    ("pending", "Pending"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("skipped", "Skipped"),
    ("cancelled", "Cancelled"),
]


def fill_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    """One fresh key per existing row (a field default would give them all the same one)."""
    model = apps.get_model("customers", "Reminder")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"UPDATE {model._meta.db_table} SET idempotency_key = gen_random_uuid() "
            "WHERE idempotency_key IS NULL"
        )
        return
    for pk in model.objects.filter(idempotency_key__isnull=True).values_list("pk", flat=True):
        model.objects.filter(pk=pk).update(idempotency_key=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_privacy_permissions_and_export_record")]

    operations = [
        migrations.RemoveConstraint(model_name="reminder", name="reminder_sent_has_time"),
        migrations.RemoveConstraint(model_name="reminder", name="reminder_sending_has_claim_time"),
        migrations.RemoveIndex(model_name="reminder", name="reminder_due_open_idx"),
        migrations.RenameField(model_name="reminder", old_name="status", new_name="delivery_status"),
        migrations.AlterField(
            model_name="reminder",
            name="delivery_status",
            field=models.CharField(
                choices=STATUS_CHOICES, default="pending", max_length=10, verbose_name="delivery"
            ),
        ),
        migrations.AddField(
            model_name="reminder",
            name="claim_token",
            field=models.UUIDField(blank=True, editable=False, null=True, verbose_name="claim token"),
        ),
        migrations.AddField(
            model_name="reminder",
            name="failed_channels",
            field=models.JSONField(blank=True, default=list, verbose_name="channels given up on"),
        ),
        migrations.AddField(
            model_name="reminder",
            name="idempotency_key",
            field=models.UUIDField(editable=False, null=True, verbose_name="idempotency key"),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reminder",
            name="idempotency_key",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="idempotency key"
            ),
        ),
        # A claim taken before this migration has no token: it goes back to pending, and the
        # sweep sends it again (under its new key).
        migrations.RunSQL(
            "UPDATE customers_reminder SET delivery_status = 'pending', claimed_at = NULL "
            "WHERE delivery_status = 'sending'",
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="reminder",
            index=models.Index(
                condition=models.Q(("delivery_status__in", ["pending", "sending"])),
                fields=["due_on"],
                name="reminder_due_open_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="reminder",
            index=models.Index(
                condition=models.Q(("delivery_status", "pending")),
                fields=["next_attempt_at"],
                name="reminder_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="reminder",
            index=models.Index(
                condition=models.Q(("delivery_status", "sending")),
                fields=["claimed_at"],
                name="reminder_claimed_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sent"), _negated=True),
                    ("sent_at__isnull", False),
                    _connector="OR",
                ),
                name="reminder_sent_has_time",
                violation_error_message="A sent message has a sending time.",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sending"), _negated=True),
                    models.Q(("claim_token__isnull", False), ("claimed_at__isnull", False)),
                    _connector="OR",
                ),
                name="reminder_sending_has_claim",
                violation_error_message="A message being sent has a claim.",
            ),
        ),
    ]
