"""The daily rollups of the fact metrics and their per-day markers (metrics/rollups.py).

Like 0004, creates the new models' permissions and syncs the roles (Admins hold every
permission of the app), since post_migrate does not reach this app in time.
"""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def sync(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    from accounts.roles import sync_roles

    app_config = apps.get_app_config("metrics")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):

    dependencies = [
        ("metrics", "0006_purchase_days"),
        ("accounts", "0002_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name='FactRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('family', models.CharField(max_length=64, verbose_name='family')),
                ('day', models.DateField(verbose_name='day')),
                ('channel', models.CharField(blank=True, max_length=20, null=True, verbose_name='channel')),
                ('operator_id', models.BigIntegerField(blank=True, null=True, verbose_name='operator ID')),
                ('personalized', models.BooleanField(blank=True, null=True, verbose_name='personalised')),
                ('a0', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a1', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a2', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a3', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a4', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a5', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a6', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a7', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a8', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a9', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a10', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a11', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a12', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a13', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a14', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a15', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a16', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a17', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a18', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a19', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a20', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a21', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a22', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
                ('a23', models.FloatField(blank=True, null=True, verbose_name='aggregate')),
            ],
            options={
                'verbose_name': 'fact rollup',
                'verbose_name_plural': 'fact rollups',
                'indexes': [models.Index(fields=['family', 'day'], name='fact_rollup_family_day_idx')],
            },
        ),
        migrations.CreateModel(
            name='FactRollupDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('family', models.CharField(max_length=64, verbose_name='family')),
                ('day', models.DateField(verbose_name='day')),
                ('version', models.BigIntegerField(default=0, verbose_name='version')),
                ('rolled_version', models.BigIntegerField(blank=True, null=True, verbose_name='rolled-up version')),
                ('schema', models.CharField(blank=True, max_length=64, verbose_name='schema')),
                ('rolled_at', models.DateTimeField(blank=True, null=True, verbose_name='rolled up at')),
            ],
            options={
                'verbose_name': 'fact rollup day',
                'verbose_name_plural': 'fact rollup days',
                'ordering': ['family', '-day'],
                'constraints': [models.UniqueConstraint(fields=('family', 'day'), name='fact_rollup_day_unique_per_family')],
            },
        ),
        migrations.RunPython(sync, migrations.RunPython.noop),
    ]
