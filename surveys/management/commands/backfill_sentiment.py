"""Label the sentiment of survey comments answered before the classifier existed (or again)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from surveys.services import relabel_sentiment


class Command(BaseCommand):
    help = "Set the sentiment of survey comments that have none (--all: relabel every comment)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="relabel every comment")

    def handle(self, *args: Any, **options: Any) -> None:
        changed = relabel_sentiment(only_unlabelled=not options["all"])
        self.stdout.write(f"{changed} responses labelled")
