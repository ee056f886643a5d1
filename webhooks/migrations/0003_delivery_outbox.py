"""Webhook deliveries join the outbox (core/outbox): the names every outbound message uses
(`delivery_status`, `last_error`, `sent_at`), a claim with a lease, and a stable idempotency
key; `delivered` becomes `sent`, `retrying` is `pending` with attempts behind it."""

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
    model = apps.get_model("webhooks", "WebhookDelivery")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"UPDATE {model._meta.db_table} SET idempotency_key = gen_random_uuid() "
            "WHERE idempotency_key IS NULL"
        )
        return
    for pk in model.objects.filter(idempotency_key__isnull=True).values_list("pk", flat=True):
        model.objects.filter(pk=pk).update(idempotency_key=uuid.uuid4())


def rename_states(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("webhooks", "WebhookDelivery")
    model.objects.filter(delivery_status="delivered").update(delivery_status="sent")
    model.objects.filter(delivery_status="retrying").update(delivery_status="pending")


def rename_states_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("webhooks", "WebhookDelivery")
    model.objects.filter(delivery_status="sent").update(delivery_status="delivered")
    model.objects.filter(delivery_status="pending", attempts__gt=0).update(
        delivery_status="retrying"
    )


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_h7_customer_merged_event")]

    operations = [
        migrations.RemoveIndex(model_name="webhookdelivery", name="webhook_delivery_due_idx"),
        migrations.RenameField(
            model_name="webhookdelivery", old_name="status", new_name="delivery_status"
        ),
        migrations.RenameField(model_name="webhookdelivery", old_name="error", new_name="last_error"),
        migrations.RenameField(
            model_name="webhookdelivery", old_name="delivered_at", new_name="sent_at"
        ),
        migrations.RunPython(rename_states, rename_states_back),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="delivery_status",
            field=models.CharField(
                choices=STATUS_CHOICES, default="pending", max_length=10, verbose_name="delivery"
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="sent at"),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="delivery attempts"),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="claimed_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="claimed at"
            ),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="claim_token",
            field=models.UUIDField(blank=True, editable=False, null=True, verbose_name="claim token"),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="idempotency_key",
            field=models.UUIDField(editable=False, null=True, verbose_name="idempotency key"),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="idempotency_key",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="idempotency key"
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("delivery_status", "pending")),
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("delivery_status", "sending")),
                fields=["claimed_at"],
                name="webhook_delivery_claimed_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sent"), _negated=True),
                    ("sent_at__isnull", False),
                    _connector="OR",
                ),
                name="webhook_delivery_sent_has_time",
                violation_error_message="A sent message has a sending time.",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sending"), _negated=True),
                    models.Q(("claim_token__isnull", False), ("claimed_at__isnull", False)),
                    _connector="OR",
                ),
                name="webhook_delivery_sending_has_claim",
                violation_error_message="A message being sent has a claim.",
            ),
        ),
    ]
