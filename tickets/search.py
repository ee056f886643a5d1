"""Searching tickets: the card's search box finds a customer by ticket number, and a
case-insensitive substring search knows more letters than ASCII, on both databases.

`tickets_by_number` is the card search's provider ("42", "#42", "T-42"), registered by
tickets/card.py.

SQLite's LIKE and lower()/upper() fold ASCII letters only, so "батарея" missed "Батарея".
PostgreSQL's UPPER() folds every letter, and Django's `icontains` compares UPPER(column) there,
which a trigram GIN index on the same expression answers (migration 0003). On SQLite the
`uicontains` lookup compares through `crm_upper()`, Python's str.upper() registered on every new
connection.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.signals import connection_created
from django.db.models import CharField, TextField
from django.db.models.lookups import IContains
from django.utils.translation import gettext as _

from tickets.models import Ticket

SQLITE_UPPER = "crm_upper"


def tickets_by_number(text: str) -> list[tuple[int, str]]:
    """Search provider: "42", "#42" or "T-42" finds the customer of ticket 42."""
    number = text.strip().lstrip("#").removeprefix("T-").removeprefix("t-").strip()
    if not number.isdigit() or len(number) > len(str(2**63)):
        return []
    label = _("ticket #%(number)s") % {"number": int(number)}
    return [
        (customer_id, label)
        for customer_id in Ticket.objects.filter(pk=int(number)).values_list(
            "customer_id", flat=True
        )
    ]


def _upper(value: str | None) -> str | None:
    return value.upper() if value is not None else None


def register_sqlite_upper(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Give a new SQLite connection a Unicode-aware upper(); other databases have one."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_UPPER, 1, _upper, deterministic=True)


class UnicodeIContains(IContains):
    """`icontains` that folds the case of every letter, not only ASCII, on SQLite too."""

    lookup_name = "uicontains"

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        # Elsewhere (PostgreSQL) the database's own icontains folds every letter.
        return IContains(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_sqlite(self, compiler: Any, connection: Any) -> Any:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        sql = f"{SQLITE_UPPER}({lhs_sql}) LIKE {SQLITE_UPPER}({rhs_sql}) ESCAPE '\\'"
        return sql, [*lhs_params, *rhs_params]


def install() -> None:
    """Register the lookup and the SQLite function (TicketsConfig.ready)."""
    CharField.register_lookup(UnicodeIContains)
    TextField.register_lookup(UnicodeIContains)
    connection_created.connect(register_sqlite_upper, dispatch_uid="tickets.search.sqlite_upper")
