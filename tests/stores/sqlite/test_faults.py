"""The SQLite store's faults in edgekv's words: a file another process holds locked past the
busy timeout, a file that is not a database (see edgekv.stores.sqlite.faults); through the
sync shell, whose code is the async store's."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import edgekv
from edgekv import errors
from edgekv.model import EntryWrite
from tests.stores.faults import check_clean

# Holds the write lock of the file until its stdin closes.
_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def test_a_file_locked_by_another_process_is_store_unavailable(
    tmp_path: Path, store_log: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kv.db"
    store = edgekv.SQLiteStore(path, busy_timeout=0.2)
    try:
        ns = store.create_namespace("locked", uuid.uuid4().hex)
        write = EntryWrite("k", b"v", size=1)
        store.put(ns.id, write)
        locker = subprocess.Popen(
            [sys.executable, "-c", _LOCKER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            assert locker.stdout is not None and locker.stdout.readline() == b"locked\n"
            with pytest.raises(errors.StoreUnavailable) as caught:
                store.put(ns.id, write)
            assert caught.value.message == "central store unavailable: locked by another writer"
            check_clean(caught.value, store_log, sqlite3.OperationalError)
            assert store.get_value(ns.id, "k") == b"v"  # WAL: readers are not locked out
        finally:
            locker.communicate(b"", timeout=10)
        assert store.put(ns.id, write) > 0  # the lock is gone: writes go on
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_store_unavailable(
    tmp_path: Path, store_log: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kv.db"
    path.write_bytes(b"not a database, " * 1024)
    with pytest.raises(errors.StoreUnavailable) as caught:
        edgekv.SQLiteStore(path)
    assert caught.value.message == "central store unavailable: file is corrupt"
    check_clean(caught.value, store_log, sqlite3.DatabaseError)


def test_a_closed_store_is_store_unavailable(tmp_path: Path) -> None:
    store = edgekv.SQLiteStore(tmp_path / "kv.db")
    store.close()
    with pytest.raises(errors.StoreUnavailable) as caught:
        store.feed_position()
    assert caught.value.message == "central store unavailable: the store is closed"
