"""Survey invitations join the outbox (core/outbox): `sent_at` now means sent, the claim has
fields of its own (`claimed_at`, `claim_token`), a next attempt time and a stable idempotency
key. Rows caught in `sending` held their claim time in `sent_at`: they go back to pending."""

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
    model = apps.get_model("surveys", "SurveyInvitation")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"UPDATE {model._meta.db_table} SET idempotency_key = gen_random_uuid() "
            "WHERE idempotency_key IS NULL"
        )
        return
    for pk in model.objects.filter(idempotency_key__isnull=True).values_list("pk", flat=True):
        model.objects.filter(pk=pk).update(idempotency_key=uuid.uuid4())


def release_claims(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("surveys", "SurveyInvitation")
    model.objects.filter(delivery_status="sending").update(delivery_status="pending", sent_at=None)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0003_invitation_token_permission")]

    operations = [
        migrations.RemoveConstraint(
            model_name="surveyinvitation", name="survey_invitation_sent_has_time"
        ),
        migrations.AlterField(
            model_name="surveyinvitation",
            name="delivery_status",
            field=models.CharField(
                choices=STATUS_CHOICES, default="pending", max_length=10, verbose_name="delivery"
            ),
        ),
        migrations.RunPython(release_claims, migrations.RunPython.noop),
        migrations.AddField(
            model_name="surveyinvitation",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="next attempt at"),
        ),
        migrations.AddField(
            model_name="surveyinvitation",
            name="claimed_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="claimed at"
            ),
        ),
        migrations.AddField(
            model_name="surveyinvitation",
            name="claim_token",
            field=models.UUIDField(blank=True, editable=False, null=True, verbose_name="claim token"),
        ),
        migrations.AddField(
            model_name="surveyinvitation",
            name="idempotency_key",
            field=models.UUIDField(editable=False, null=True, verbose_name="idempotency key"),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="surveyinvitation",
            name="idempotency_key",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="idempotency key"
            ),
        ),
        migrations.AddIndex(
            model_name="surveyinvitation",
            index=models.Index(
                condition=models.Q(("delivery_status", "pending")),
                fields=["next_attempt_at"],
                name="survey_invitation_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="surveyinvitation",
            index=models.Index(
                condition=models.Q(("delivery_status", "sending")),
                fields=["claimed_at"],
                name="survey_invitation_claimed_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="surveyinvitation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sent"), _negated=True),
                    ("sent_at__isnull", False),
                    _connector="OR",
                ),
                name="survey_invitation_sent_has_time",
                violation_error_message="A sent message has a sending time.",
            ),
        ),
        migrations.AddConstraint(
            model_name="surveyinvitation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivery_status", "sending"), _negated=True),
                    models.Q(("claim_token__isnull", False), ("claimed_at__isnull", False)),
                    _connector="OR",
                ),
                name="survey_invitation_sending_has_claim",
                violation_error_message="A message being sent has a claim.",
            ),
        ),
    ]
