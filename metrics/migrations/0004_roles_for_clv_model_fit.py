"""Grant the new CLVModelFit permissions to the roles.

The roles are re-synced after `migrate` by a post_migrate receiver that waits for the last
app, but Django sends post_migrate only to apps with models, and the last app (crm) has none;
so, like accounts.0002_roles, create this app's permissions and sync the roles here.
"""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
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
        ("metrics", "0003_metrics_period_indexes"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
