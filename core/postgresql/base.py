"""Django's PostgreSQL backend whose connections give up on a server that stopped answering.

`statement_timeout` is enforced by the server; a server that is hung (stopped, frozen, cut off
while the kernel still acknowledges) never answers and never cancels anything. Each wait of a
connection here for the server ends after OPTIONS["client_timeout"] seconds (settings.py sets
it a few seconds above the statement timeout): the connection is closed and the request fails
with an OperationalError, which the web answers as 503 (core/unavailable.py).

In the web process the connections come from a pool (settings: DATABASE_POOL_MAX_SIZE, set by
scripts/serve), made with the same deadline.

Statements are bound by the server and prepared on a connection's fifth run of them (settings:
`server_side_binding`, `prepare_threshold`; DATABASE_PREPARED_STATEMENTS=0 turns both off).
`prepared_cursor()` gives the hottest read (the caller-ID lookup, crm/api/customer_views.py)
its plan on the first run: planning it costs the server four times running it.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.utils import CursorWrapper

_WaitTimeout: type[BaseException] = getattr(
    psycopg.errors, "_WaitTimeout", psycopg.OperationalError
)


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait ends after `client_timeout` seconds."""

    client_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is None and self.client_timeout:
            timeout = self.client_timeout
        try:
            return super().wait(gen, interval, timeout)
        except _WaitTimeout as exc:
            # Mid-statement: the connection's state is unknown, it must not be used again.
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database did not answer within {timeout} s; connection closed"
            ) from exc


# Django's psycopg 3 cursor with server-side binding (the stubs do not describe it).
_ServerBindingCursor: Any = base.ServerBindingCursor


class PreparedCursor(_ServerBindingCursor):
    """Server-side binding, every statement prepared on its first execution (psycopg keeps
    the connection's prepared statements by their text; OPTIONS["prepare_threshold"] None
    turns it off, behind a connection pooler that cannot keep them)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        return super().execute(query, params, prepare=True, **kwargs)


def _deadline_class(client_timeout: float) -> type[DeadlineConnection]:
    """DeadlineConnection with its deadline set for every connection: the class a pool
    makes its connections of (its health check on borrowing waits no longer either)."""
    return type(
        "PooledDeadlineConnection", (DeadlineConnection,), {"client_timeout": client_timeout}
    )


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        """Django's pool (OPTIONS["pool"], the web process: settings.py), whose connections
        keep the client-side deadline from the moment they are made."""
        options = self.settings_dict["OPTIONS"].get("pool")
        client_timeout = self.settings_dict["OPTIONS"].get("client_timeout")
        if isinstance(options, dict) and client_timeout and "connection_class" not in options:
            options["connection_class"] = _deadline_class(float(client_timeout))
        return base.DatabaseWrapper.pool.fget(self)  # type: ignore[attr-defined]

    def prepared_cursor(self) -> CursorWrapper:
        """A cursor whose statements are planned once per connection: a statement run on
        every request with only its values changing. Wrapped as Django wraps its cursors:
        counted, logged, passed through execute_wrappers, errors turned into Django's."""
        self.ensure_connection()
        self.validate_thread_sharing()
        with self.wrap_database_errors:
            cursor: Any = PreparedCursor(self.connection)
        return self.make_debug_cursor(cursor) if self.queries_logged else self.make_cursor(cursor)

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params.pop("client_timeout", None)
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        client_timeout = self.settings_dict["OPTIONS"].get("client_timeout")
        if client_timeout and type(connection) is psycopg.Connection:
            # No new state but a number: the connection Django made becomes one of ours.
            connection.__class__ = DeadlineConnection
            assert isinstance(connection, DeadlineConnection)
            connection.client_timeout = float(client_timeout)
        return connection
