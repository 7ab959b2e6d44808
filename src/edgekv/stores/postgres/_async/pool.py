"""A psycopg pool that fails fast while the server is unreachable.

psycopg_pool makes a caller wait up to `timeout` (30 s) for a connection; while PostgreSQL is
down or cut off, every call would hang that long before failing. This pool remembers whether
its last attempt to connect failed, and while it did, a caller waits `fail_fast` seconds at
most, so an edge answers 503 at once instead of holding requests (and recovery is not
slowed: callers keep starting new connection attempts, and the first success clears it). A
caller that began waiting before the server was found unreachable (its connection was lost
under it: the pool reconnects) stops waiting too, within `fail_fast` of the finding.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

FAIL_FAST = 1.0  # seconds a caller waits for a connection while the server is unreachable
RECONNECT_TIMEOUT = 2.0


class AsyncFailFastPool(AsyncConnectionPool):
    def __init__(self, conninfo: str, *, fail_fast: float = FAIL_FAST, **options: Any) -> None:
        self.unreachable = False
        self.last_error: psycopg.OperationalError | None = None  # why it is unreachable
        self._fail_fast = fail_fast
        pool = self

        class Connection(psycopg.AsyncConnection):
            @classmethod
            async def connect(cls, *args: Any, **kwargs: Any) -> Any:
                try:
                    conn = await super().connect(*args, **kwargs)
                except psycopg.OperationalError as e:
                    pool.unreachable, pool.last_error = True, e
                    raise
                pool.unreachable = False
                return conn

        # The pool retries a failed connection with a doubling delay (1, 2, 4, 8 s...) for up
        # to reconnect_timeout (5 min): after a 30 s outage its next try could be 30 s after
        # the server is back. Giving up after 2 s lets the next caller start a fresh attempt.
        options.setdefault("reconnect_timeout", RECONNECT_TIMEOUT)
        super().__init__(conninfo, connection_class=Connection, **options)

    async def getconn(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 (the pool's)
        if timeout is not None:
            return await super().getconn(timeout)
        # The pool's timeout, waited in steps of fail_fast: after each, a server found
        # unreachable meanwhile ends the wait.
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            try:
                return await super().getconn(min(left, self._fail_fast))
            except PoolTimeout as e:
                if self.unreachable:
                    # The connection's own error says why (refused, timed out, auth failed).
                    raise e from self.last_error
                if left <= self._fail_fast:
                    raise
