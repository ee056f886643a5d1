"""`python manage.py ingest_email --mailbox NAME < message.eml`: a local MTA's pipe."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from email_channel.models import Mailbox
from email_channel.services import ingest_email


class Command(BaseCommand):
    help = "Ingest one raw message from standard input (or --file) into the named mailbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailbox", required=True, help="the mailbox's name")
        parser.add_argument("--file", help="read the message from this file instead of stdin")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mailbox = Mailbox.objects.get(name=options["mailbox"])
        except Mailbox.DoesNotExist as exc:
            raise CommandError(f"No mailbox named {options['mailbox']!r}.") from exc
        if options["file"]:
            with open(options["file"], "rb") as handle:
                raw = handle.read()
        else:
            raw = sys.stdin.buffer.read()
        result = ingest_email(raw, mailbox=mailbox)
        if result.outcome == "quarantined" and result.quarantined is not None:
            # Exit 0: the mail is kept (an MTA would otherwise bounce it back to the sender).
            self.stdout.write(f"quarantined {result.quarantined.pk}: {result.quarantined.reason}")
        elif result.ticket_id:
            self.stdout.write(f"{result.outcome} ticket {result.ticket_id}")
        else:
            self.stdout.write(result.outcome)
