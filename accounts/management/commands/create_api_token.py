"""Create (or show, or rotate) the API token of a user: `create_api_token USER [--group G]`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.models import User


class Command(BaseCommand):
    help = (
        "Print the API token of a user, creating the user (an integration, not staff) and the "
        "token if needed. --group puts the user in a role group; --rotate replaces the token."
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
        parser.add_argument("--rotate", action="store_true", help="Replace an existing token.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            if not options["create_user"]:
                raise CommandError(f"No user {username!r}; pass --create-user to create one.")
            user = User(username=username, is_staff=False)
            user.set_unusable_password()
            user.save()
        for name in options["group"]:
            group = Group.objects.filter(name=name).first()
            if group is None:
                raise CommandError(f"No group {name!r}.")
            user.groups.add(group)
        if options["rotate"]:
            Token.objects.filter(user=user).delete()
        token, _created = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
