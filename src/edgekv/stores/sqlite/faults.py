"""SQLite's faults of the store (edgekv.stores.faults): the file locked past the busy timeout,
disk errors, a full disk, a file that cannot be opened or written, or is not a database.

Told by SQLite's primary result code (`sqlite_errorcode`), not by its message: errors that are
the call's own (a statement too big, a constraint) are not faults of the store.
"""

from __future__ import annotations

import sqlite3

from edgekv.stores.faults import StoreFaults

CLOSED = "the store is closed"
LOCKED = "locked by another writer"
_REASONS = {
    sqlite3.SQLITE_BUSY: LOCKED,
    sqlite3.SQLITE_LOCKED: LOCKED,
    sqlite3.SQLITE_PROTOCOL: LOCKED,  # WAL locks contended
    sqlite3.SQLITE_IOERR: "disk I/O failed",
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_CANTOPEN: "file cannot be opened",
    sqlite3.SQLITE_READONLY: "file is read-only",
    sqlite3.SQLITE_CORRUPT: "file is corrupt",
    sqlite3.SQLITE_NOTADB: "file is corrupt",
    sqlite3.SQLITE_NOMEM: "out of memory",
}


class SQLiteFaults(StoreFaults):
    __slots__ = ()
    quiet = frozenset({LOCKED})  # the store waits for the lock itself (sqlite_store.py)

    @staticmethod
    def reason(e: Exception) -> str | None:
        if isinstance(e, sqlite3.Error):
            code = getattr(e, "sqlite_errorcode", None)
            if code is not None:
                return _REASONS.get(code & 0xFF)  # the primary code of an extended one
            if isinstance(e, sqlite3.ProgrammingError) and "closed" in str(e):
                return CLOSED  # a connection closed by aclose() under a call still running
        return None
