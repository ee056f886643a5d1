"""Issue an API token for a user: `create_api_token USER [--create-user] [--group G]`.

Prints the new key as the last word of its last line (scripts rely on it). Only the key's
hash is stored, so an existing key cannot be shown again: every run issues a new token
(`--rotate` revokes the user's other tokens first).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.tokens import issue_token


class Command(BaseCommand):
    help = (
        "Issue a new API token for a user and print it, creating the user (an integration, "
        "not staff) if asked. --group puts the user in a role group; --rotate revokes the "
        "user's other tokens; --name and --expires-days describe the new one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--group",
            action="append",
            default=[],
            help="A group whose permissions the user gets (repeatable), e.g. Operators.",
        )
        parser.add_argument(
            "--create-user", action="store_true", help="Create the user if it does not exist."
        )
        parser.add_argument("--rotate", action="store_true", help="Revoke the user's other tokens.")
        parser.add_argument(
            "--name", default="default", help="What the token is for (default: default)."
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="The token stops working after this many days (default: never).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        expires_days = options["expires_days"]
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters.")
        user = User.objects.filter(username=username).first()
        if user is None:
            if not options["create_user"]:
                raise CommandError(f"No user {username!r}; pass --create-user to create one.")
            user = User(username=username, is_staff=False)
            user.set_unusable_password()
            user.save()
        for group_name in options["group"]:
            group = Group.objects.filter(name=group_name).first()
            if group is None:
                raise CommandError(f"No group {group_name!r}.")
            user.groups.add(group)
        expires_at = (
            timezone.now() + datetime.timedelta(days=expires_days) if expires_days else None
        )
        token, key = issue_token(
            user=user, name=name, expires_at=expires_at, replace=options["rotate"]
        )
        if expires_at is not None:
            self.stdout.write(f"Token {token.name!r} expires at {expires_at:%Y-%m-%d %H:%M} UTC.")
        self.stdout.write(key)
