from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Staff users (operators, supervisors, admins), their teams and roles."""

    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from accounts import auth_cache
        from accounts.roles import sync_roles_after_migrate

        auth_cache.connect()

        # Models added by later migrations get their permissions granted to the roles too.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")
