"""Django's PostgreSQL backend whose connections give up on a server that stopped answering.

`statement_timeout` is enforced by the server; a server that is hung (stopped, frozen, cut off
while the kernel still acknowledges) never answers and never cancels anything. Each wait of a
connection here for the server ends after OPTIONS["client_timeout"] seconds (settings.py sets
it a few seconds above the statement timeout): the connection is closed and the request fails
with an OperationalError, which the web answers as 503 (core/unavailable.py).
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db.backends.postgresql import base

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


class DatabaseWrapper(base.DatabaseWrapper):
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
