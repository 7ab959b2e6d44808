"""PostgreSQL's faults of the store (edgekv.stores.faults): psycopg's OperationalError tree
(a lost or refused connection, the pool's timeout, a server shutting down, out of disk or
connections, a statement cancelled, a transaction that lost a conflict) and a standby that
refuses writes after a failover.

Told by class and SQLSTATE; the connection-level errors psycopg raises without a SQLSTATE are
told apart by the words libpq uses, which only choose the reason: the message never carries
them (they name the server's address).
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolClosed, PoolTimeout

from edgekv.stores.faults import StoreFaults, refused

_BY_CLASS = {  # SQLSTATE class -> reason
    "08": "connection lost",
    "53": "server out of resources",
    "40": "conflict with another transaction",
    "57": "server shutting down or starting",
}


class PostgresFaults(StoreFaults):
    __slots__ = ()

    @staticmethod
    def reason(e: Exception) -> str | None:
        if isinstance(e, PoolTimeout):
            # A server found unreachable: the failed connection's reason (pool.py).
            if isinstance(e.__cause__, psycopg.OperationalError):
                return PostgresFaults.reason(e.__cause__)
            return "timed out waiting for a connection"
        if isinstance(e, PoolClosed):
            return "the store is closed"
        if isinstance(e, pg_errors.ReadOnlySqlTransaction):
            return "server is read-only"
        if not isinstance(e, psycopg.OperationalError):
            return None
        state = e.sqlstate or ""
        if state == pg_errors.QueryCanceled.sqlstate:
            return "timed out"
        if state:
            return _BY_CLASS.get(state[:2], "server error")
        if refused(e):
            return "connection refused"
        text = str(e).lower()
        if "timeout" in text or "timed out" in text:
            return "timed out"
        if "authentication" in text or "password" in text:
            return "authentication failed"
        return "connection lost"
