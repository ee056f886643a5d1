"""`telephony_ami --host H --port P --user U --secret-env VAR`: the Asterisk AMI bridge."""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.ami import AmiError, run_bridge

# Reconnect after a lost connection, waiting longer each time up to this many seconds.
MAX_BACKOFF_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Follow an Asterisk manager interface (AMI) and record its calls as the telephony "
        "events endpoint does. The secret is read from the environment variable --secret-env."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", required=True)
        parser.add_argument("--port", type=int, default=5038)
        parser.add_argument("--user", required=True)
        parser.add_argument(
            "--secret-env", required=True, help="The environment variable holding the secret."
        )
        parser.add_argument(
            "--once", action="store_true", help="Stop when the AMI closes the connection."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        secret = os.environ.get(options["secret_env"])
        if not secret:
            raise CommandError(f"Set the AMI secret in ${options['secret_env']}.")
        backoff = 1
        while True:
            try:
                count = run_bridge(
                    host=options["host"], port=options["port"], user=options["user"], secret=secret
                )
            except AmiError as exc:
                raise CommandError(str(exc)) from exc
            except OSError as exc:
                if options["once"]:
                    raise CommandError(f"AMI unreachable: {exc}") from exc
                self.stderr.write(f"AMI unreachable ({exc}); retrying in {backoff} s")
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            self.stdout.write(f"AMI closed the connection after {count} events")
            if options["once"]:
                return
            backoff = 1
