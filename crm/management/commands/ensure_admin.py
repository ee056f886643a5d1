"""Create the `admin` superuser once, with a random password printed for whoever runs it."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from accounts.roles import ADMINS

PASSWORD_BYTES = 12  # 16 URL-safe characters


class Command(BaseCommand):
    help = "Create the superuser 'admin' with a printed random password, unless it exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Superuser '{username}' exists; its password was printed when it was created "
                f"(change it with: python manage.py changepassword {username})."
            )
            return
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.groups.add(*Group.objects.filter(name=ADMINS))
        self.stdout.write(
            self.style.SUCCESS(f"Created superuser '{username}' with password: {password}")
        )
