"""Create the roles Operators, Supervisors and Admins as groups with their permissions."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def create_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    from accounts.roles import sync_roles

    # Permissions are normally created after all migrations ran (post_migrate); the roles
    # need them now, so create them for every app first.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


def remove_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    from accounts.roles import ROLE_NAMES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_NAMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("customers", "0001_initial"),
        ("tickets", "0001_initial"),
        ("surveys", "0001_initial"),
        ("metrics", "0001_initial"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
