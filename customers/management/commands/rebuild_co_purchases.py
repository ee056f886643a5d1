"""`python manage.py rebuild_co_purchases`: recount the card's co-purchase pairs now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from customers import co_purchases


class Command(BaseCommand):
    help = "Recount how many customers bought each pair of products (the card's co-purchases)."

    def handle(self, *args: Any, **options: Any) -> None:
        written = co_purchases.rebuild()
        self.stdout.write(self.style.SUCCESS(f"Co-purchase pairs recounted: {written} rows."))
