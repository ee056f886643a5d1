"""Ticket replies become the outbox's fourth kind: the outbox's fields on EmailMessage.

The old delivery state maps onto them, data kept: queued -> pending, sent -> sent, failed ->
failed, bounced -> sent with `bounced_at` (it was accepted, then bounced), an inbound message
(received) -> skipped (nothing to send); `failure_reason` -> `last_error`; `attempts` and
`sent_at` keep their columns. Every row gets its own idempotency key before the column turns
unique.
"""

import uuid

from django.db import migrations, models

OLD_TO_NEW = {
    "queued": "pending",
    "sent": "sent",
    "failed": "failed",
    "bounced": "sent",
    "received": "skipped",
}


def forwards(apps, schema_editor):
    EmailMessage = apps.get_model("email_channel", "EmailMessage")
    for row in EmailMessage.objects.all().only(
        "pk", "status", "failure_reason", "sent_at", "created_at"
    ).iterator(chunk_size=1000):
        row.delivery_status = OLD_TO_NEW.get(row.status, "skipped")
        row.last_error = row.failure_reason
        row.idempotency_key = uuid.uuid4()
        if row.status == "bounced":
            row.bounced_at = row.sent_at or row.created_at
        if row.delivery_status == "sent" and row.sent_at is None:
            row.sent_at = row.created_at
        row.save(
            update_fields=["delivery_status", "last_error", "idempotency_key", "bounced_at", "sent_at"]
        )


def backwards(apps, schema_editor):
    EmailMessage = apps.get_model("email_channel", "EmailMessage")
    for row in EmailMessage.objects.all().iterator(chunk_size=1000):
        if row.direction == "in":
            row.status = "received"
        elif row.bounced_at is not None:
            row.status = "bounced"
        else:
            row.status = {"sent": "sent", "failed": "failed", "cancelled": "failed"}.get(
                row.delivery_status, "queued"
            )
        row.failure_reason = row.last_error
        row.save(update_fields=["status", "failure_reason"])


class Migration(migrations.Migration):
    dependencies = [
        ("email_channel", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboundEmail",
            fields=[],
            options={
                "verbose_name": "outbound email",
                "verbose_name_plural": "outbound emails",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("email_channel.emailmessage",),
        ),
        migrations.AddField(
            model_name="emailmessage",
            name="bounced_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="bounced at"),
        ),
        migrations.AddField(
            model_name="emailmessage",
            name="claim_token",
            field=models.UUIDField(
                blank=True, editable=False, null=True, verbose_name="claim token"
            ),
        ),
        migrations.AddField(
            model_name="emailmessage",
            name="claimed_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="claimed at"
            ),
        ),
        migrations.AddField(
            model_name="emailmessage",
            name="delivery_status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("sent", "Sent"),
                    ("failed", "Failed"),
                    ("skipped", "Skipped"),
                    ("cancelled", "Cancelled"),
                ],
                default="pending",
                max_length=10,
                verbose_name="delivery",
            ),
        ),
        migrations.AddField(
            model_name="emailmessage",
            name="idempotency_key",
            field=models.UUIDField(editable=False, null=True, verbose_name="idempotency key"),
        ),
        migrations.AddField(
            model_name="emailmessage",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AddField(
            model_name="emailmessage",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="next attempt at"),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name="emailmessage",
            name="idempotency_key",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="idempotency key"
            ),
        ),
        migrations.AlterField(
            model_name="emailmessage",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="delivery attempts"),
        ),
        migrations.RemoveIndex(
            model_name="emailmessage",
            name="email_status_idx",
        ),
        migrations.RemoveField(
            model_name="emailmessage",
            name="failure_reason",
        ),
        migrations.RemoveField(
            model_name="emailmessage",
            name="status",
        ),
        migrations.AddIndex(
            model_name="emailmessage",
            index=models.Index(
                condition=models.Q(("delivery_status", "pending")),
                fields=["next_attempt_at"],
                name="email_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="emailmessage",
            index=models.Index(
                condition=models.Q(("delivery_status", "sending")),
                fields=["claimed_at"],
                name="email_claimed_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="emailmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sent"), _negated=True),
                    ("sent_at__isnull", False),
                    _connector="OR",
                ),
                name="email_sent_has_time",
                violation_error_message="A sent message has a sending time.",
            ),
        ),
        migrations.AddConstraint(
            model_name="emailmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sending"), _negated=True),
                    models.Q(("claim_token__isnull", False), ("claimed_at__isnull", False)),
                    _connector="OR",
                ),
                name="email_sending_has_claim",
                violation_error_message="A message being sent has a claim.",
            ),
        ),
    ]
