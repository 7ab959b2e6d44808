"""A file written by an older edgekv (schema version 2, before sizes and totals were kept) is
upgraded in place when opened: every key gets its size, the namespaces their totals, and the
writes after the upgrade keep them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import edgekv
from edgekv.stores.sqlite import schema as sql

# The schema of version 2, as edgekv wrote it.
VERSION_2 = """
CREATE TABLE namespaces (
    nsid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at REAL NOT NULL,
    deleted_at REAL
);
CREATE UNIQUE INDEX namespaces_by_title ON namespaces(account_id, title)
    WHERE deleted_at IS NULL;
CREATE TABLE entries (
    nsid INTEGER NOT NULL,
    key TEXT NOT NULL,
    value BLOB,
    blob_id INTEGER,
    metadata TEXT,
    expiration INTEGER,
    version INTEGER NOT NULL,
    PRIMARY KEY (nsid, key)
) WITHOUT ROWID;
CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY,
    nsid INTEGER NOT NULL,
    key TEXT,
    at INTEGER NOT NULL
);
CREATE TRIGGER entries_live_namespace BEFORE INSERT ON entries
    WHEN NOT EXISTS (SELECT 1 FROM namespaces WHERE nsid = NEW.nsid AND deleted_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'namespace not found');
END;
CREATE TRIGGER entries_feed_insert AFTER INSERT ON entries BEGIN
    INSERT INTO changes (seq, nsid, key, at) VALUES (NEW.version, NEW.nsid, NEW.key, unixepoch());
END;
CREATE TRIGGER entries_feed_update AFTER UPDATE OF version ON entries BEGIN
    INSERT INTO changes (seq, nsid, key, at) VALUES (NEW.version, NEW.nsid, NEW.key, unixepoch());
    DELETE FROM blobs WHERE OLD.blob_id IS NOT NULL AND id = OLD.blob_id
        AND OLD.blob_id IS NOT NEW.blob_id;
END;
CREATE TRIGGER entries_drop_blob AFTER DELETE ON entries
    WHEN OLD.blob_id IS NOT NULL BEGIN
    DELETE FROM blobs WHERE id = OLD.blob_id;
END;
PRAGMA user_version=2;
"""
NS = "a" * 32


def version_2_file(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_2)
        db.execute(
            "INSERT INTO namespaces (id, account_id, title, created_at) VALUES (?, ?, 'old', 0)",
            (NS, edgekv.DEFAULT_ACCOUNT),
        )
        db.execute("INSERT INTO blobs (id, data) VALUES (7, zeroblob(2000000))")
        rows = [("small", b"12345", None, 1), ("big", None, 7, 2), ("empty", b"", None, 3)]
        db.executemany(
            "INSERT INTO entries (nsid, key, value, blob_id, version) VALUES (1, ?, ?, ?, ?)",
            rows,
        )
        # The feed no longer holds the first write (purged): its time is unknown.
        db.execute("DELETE FROM changes WHERE seq = 1")
        db.execute("UPDATE changes SET at = 1700000000")
    db.close()


async def test_a_version_2_file_is_upgraded_with_sizes_and_totals(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_2_file(path)
    store = edgekv.AsyncSQLiteStore(path)
    try:
        usage = await store.namespace_usage(NS)
        assert (usage.keys, usage.bytes) == (3, 2_000_005)
        page = await store.list_keys(NS, "", 10, None)
        shown = {k.name: (k.size, k.written_at) for k in page.keys}
        assert shown == {
            "big": (2_000_000, 1700000000),
            "empty": (0, 1700000000),
            "small": (5, None),
        }
        ns = await edgekv.AsyncKV(store).namespace(NS)
        await ns.put("small", "1")
        await ns.delete("big")
        await ns.put("new", "abc")
        usage = await store.namespace_usage(NS)
        assert (usage.keys, usage.bytes) == (3, 4)
        await store.purge_expired()  # folds the feed into the totals: the same figures
        usage = await store.namespace_usage(NS)
        assert (usage.keys, usage.bytes) == (3, 4)
    finally:
        await store.aclose()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == sql.SCHEMA_VERSION
    db.close()


async def test_the_upgrade_runs_once_however_many_open_the_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_2_file(path)
    stores = [edgekv.AsyncSQLiteStore(path) for _ in range(3)]
    try:
        for store in stores:
            usage = await store.namespace_usage(NS)
            assert (usage.keys, usage.bytes) == (3, 2_000_005)
    finally:
        for store in stores:
            await store.aclose()


def test_the_schema_splits_into_whole_statements() -> None:
    statements = sql.split_statements(sql.SCHEMA)
    assert all(sqlite3.complete_statement(s + "\n") for s in statements)
    assert any(s.startswith("CREATE TRIGGER") and s.endswith("END;") for s in statements)
